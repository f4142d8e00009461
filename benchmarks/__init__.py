"""Performance scripts: absolute figures plus ratios against a baseline measured in the same run."""
