"""Exceptions a user sees; the entry point turns them into one line and an exit code."""

__all__ = ["QPlanError", "ConfigError", "ProtocolError", "RemoteError", "RequestTimeout"]


class QPlanError(Exception):
    """An error meant for the person at the terminal: one clear line, no traceback."""

    exit_code = 1


class ConfigError(QPlanError):
    """config.ini is missing, or a section, key or value in it is wrong."""

    exit_code = 2


class ProtocolError(QPlanError):
    """Frames on a socket that do not follow mesh.protocol."""

    exit_code = 3


class RemoteError(QPlanError):
    """A service answered a request with an error reply."""

    exit_code = 4

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code


class RequestTimeout(QPlanError):
    """A service did not answer in time, after every retry."""

    exit_code = 5
