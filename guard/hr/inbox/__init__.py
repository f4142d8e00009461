"""The HR drop folder: files validated whole, applied in one transaction, moved aside with their result."""
