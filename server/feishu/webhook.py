"""Event delivery to an app's webhook URL (encryption, signature, url_verification)."""
