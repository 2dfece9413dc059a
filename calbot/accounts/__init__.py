"""Sign-in accounts (calbot.accounts.store) and the identity decisions around them (calbot.accounts.identity)."""

from calbot.accounts.identity import (
                                   ensure_auth_secret,
                                   header_email,
                                   verified_oauth_email,
)
from calbot.accounts.store import (
                                   MIN_PASSWORD_LENGTH,
                                   Account,
                                   AccountError,
                                   AccountStore,
                                   LoginThrottled,
                                   account_email,
)

__all__ = ["MIN_PASSWORD_LENGTH", "Account", "AccountError", "AccountStore", "LoginThrottled", "account_email",
           "ensure_auth_secret", "header_email", "verified_oauth_email"]
