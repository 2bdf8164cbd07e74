"""The SMTP relay ([smtp]): mail from the internet-side MTA, sanitised as one transfer, delivered to LGWAN."""
