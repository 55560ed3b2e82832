"""The one error boundary of every `cpt` command: a problem is one line that says what to do, never a traceback.

Exit codes: 0 valid or succeeded, 1 invalid or failed, 2 usage, environment (no region, no credentials,
an unreachable endpoint, a stack not deployed, a missing or unreadable file) or an internal error
(whose traceback goes to a log file, named in the one line). With `--json` anywhere on the command line,
stdout holds exactly one strict JSON object in every case, errors included.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer._click import exceptions as clicks  # typer 0.29 vendors click: its exceptions live here
from typer.core import TyperGroup

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A usage or environment problem the user can fix: printed as one line, exit 2."""

    def __init__(self, message: str, *, kind: str = "usage") -> None:
        super().__init__(message)
        self.kind = kind


def regular_file(path: Path, what: str = "file") -> Path:
    """`path` if it is a readable regular file; CliError (exit 2) at once otherwise, before anything reads it.

    A device (`/dev/zero`), a FIFO or a directory would make a reader block or run forever.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CliError(f"{path}: no such {what}", kind="file") from None
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}", kind="file") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise CliError(f"{path}: not a regular file ({kind}): give the path of a {what}", kind="file")
    if not os.access(path, os.R_OK):
        raise CliError(f"{path}: permission denied: this {what} is not readable by you", kind="file")
    return path


def strict_json(value: Any) -> Any:
    """`value` with every non-finite float (NaN, Infinity) replaced by null: strict JSON has none."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


def json_text(payload: dict[str, Any]) -> str:
    """One line of strict JSON; lone surrogates become `\\udXXX` escapes (valid JSON, never a crash)."""
    return json.dumps(strict_json(payload), ensure_ascii=True, allow_nan=False, default=str)


def emit_json(payload: dict[str, Any]) -> None:
    """Print one strict JSON object on stdout."""
    sys.stdout.write(json_text(payload) + "\n")
    sys.stdout.flush()


def _aws_message(exc: BaseException) -> str | None:
    """One line for the botocore errors a user's environment causes, or None."""
    try:
        from botocore import exceptions as boto
    except ImportError:  # pragma: no cover - botocore is a dependency
        return None
    if isinstance(exc, boto.NoRegionError):
        return "no AWS region: pass --region REGION or set AWS_REGION (or a region in your AWS profile)"
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return (
            "no AWS credentials: set AWS_PROFILE to a configured profile (aws configure, aws sso login) "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, boto.ProfileNotFound):
        return f"{exc}: check AWS_PROFILE and ~/.aws/config"
    if isinstance(exc, boto.TokenRetrievalError | boto.SSOError):
        return f"{exc}: run aws sso login"
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError | boto.ConnectionClosedError):
        return f"{exc}: check the network, the region and --endpoint-url"
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if "does not exist" in message and "Stack" in message:
            return f"{message}: deploy the stacks first (make deploy), or pass --stack/--region of yours"
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            return f"AWS credentials expired ({code}): refresh them (aws sso login, or new keys)"
        if code in {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"}:
            return f"AWS rejected the credentials ({code}): check AWS_PROFILE or your access keys"
        if "AccessDenied" in code or code == "UnauthorizedOperation":
            return f"AWS denied the request ({code}: {message}): your role needs that permission"
        return f"AWS error {code}: {message}"
    if isinstance(exc, boto.BotoCoreError):
        return f"AWS configuration problem: {exc}"
    return None


def explain(exc: BaseException) -> str | None:
    """One line saying what to do about an environment problem, or None for a bug."""
    if isinstance(exc, CliError):
        return str(exc)
    if (message := _aws_message(exc)) is not None:
        return message
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, ModuleNotFoundError):
        return f"the Python package {exc.name!r} is missing: reinstall the project (make setup)"
    return None


def log_path() -> Path:
    """A new file for the full log of an internal error ($XDG_STATE_HOME/cpt/logs, else the temp folder)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "cpt" / "logs"
    name = f"cpt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    for folder in (base, Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.touch()
            return path
        except OSError:
            continue
    return Path(os.devnull)


def _internal(exc: BaseException, argv: Sequence[str]) -> str:
    path = log_path()
    text = f"cpt {' '.join(argv)}\n" + "".join(traceback.format_exception(exc))
    with contextlib.suppress(OSError):
        path.write_text(text, encoding="utf-8", errors="backslashreplace")
    return f"internal error ({type(exc).__name__}: {exc}); the full log is in {path}: please report it"


def _json_mode(argv: Sequence[str]) -> bool:
    words = list(argv)
    return "--json" in (words[: words.index("--")] if "--" in words else words)


def _fail(message: str, kind: str, code: int, json_mode: bool) -> int:
    typer.secho(f"cpt: error: {message}", err=True, fg="red")
    if json_mode:
        emit_json({"ok": False, "exit_code": code, "error": {"kind": kind, "message": message}})
    return code


def _safe_streams() -> None:
    """Text the terminal cannot encode (a lone surrogate in a dataset) is escaped, never a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a stream that cannot be reconfigured
                reconfigure(errors="backslashreplace")


class GuardedGroup(TyperGroup):
    """The `cpt` command group, with the error boundary around parsing and every command."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        json_mode = _json_mode(argv)
        _safe_streams()
        try:
            result = super().main(
                args=argv, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else EXIT_VALID
        except clicks.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            code = EXIT_USAGE
        except clicks.UsageError as exc:
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
            code = _fail(exc.format_message() + hint, "usage", EXIT_USAGE, json_mode)
        except typer.Abort:
            code = _fail("interrupted", "interrupted", EXIT_USAGE, json_mode)
        except clicks.ClickException as exc:
            code = _fail(exc.format_message(), "usage", exc.exit_code, json_mode)
        except Exception as exc:
            message = explain(exc)
            if message is not None:
                code = _fail(message, getattr(exc, "kind", "environment"), EXIT_USAGE, json_mode)
            else:
                code = _fail(_internal(exc, argv), "internal", EXIT_USAGE, json_mode)
        if standalone_mode:
            sys.exit(code)
        return code
