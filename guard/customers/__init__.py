"""Customers and their owners: a person's portfolio is the customers they own."""
