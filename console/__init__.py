"""The console: the web pages staff, approvers, security, HR and admins work in, served by the same app
and reading through the same services as the API."""
