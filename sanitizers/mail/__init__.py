"""E-mail: .eml messages and Outlook .msg items rebuilt as new messages, their attachments
sanitised through the pipeline like archive members."""

from sanitizers.mail.rebuild import MailRebuild

__all__ = ["MailRebuild"]
