"""Print a signed development token: `python scripts/make_token.py --sub user-1`.

`make token SUB=user-1 ROLES=usage:write TTL=86400` runs this. The token is signed
HS256 with the configured JWT_SECRET (read from the environment like the server
does), so a local `make run` accepts it. stdout carries the token alone, for
`TOKEN=$(make -s token)`; the usage hint goes to stderr. Refuses (exit 2) with
APP_ENV=production: real tokens come from the platform's identity service.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.auth import mint_token
from app.settings import SettingsError, load_settings

EXIT_REFUSED = 2


def _roles(text: str) -> list[str]:
    """`usage:write,admin` or `usage:write admin` -> ["usage:write", "admin"]."""
    return [role for role in text.replace(",", " ").split() if role]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make_token.py",
        description="Print an HS256 development token signed with JWT_SECRET.",
    )
    parser.add_argument("--sub", default="dev-user", help="subject (user id)")
    parser.add_argument(
        "--roles", default="", help="roles, comma- or space-separated (default none)"
    )
    parser.add_argument(
        "--ttl", type=_positive, default=86400, help="lifetime in seconds"
    )
    return parser


def _refuse(message: str) -> int:
    sys.stderr.write(f"make_token: {message}\n")
    return EXIT_REFUSED


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _refuse(str(exc))
    if settings.app_env == "production":
        return _refuse(
            "refusing with APP_ENV=production: development tokens are for local "
            "use only; get a real token from the identity service"
        )
    roles = _roles(args.roles)
    try:
        token = mint_token(settings, args.sub, roles=roles, ttl_seconds=args.ttl)
    except ValueError as exc:
        return _refuse(str(exc))
    sys.stdout.write(token + "\n")
    sys.stderr.write(
        f"development token for sub={args.sub} (roles: {' '.join(roles) or 'none'}; "
        f"valid {args.ttl} s). Use: TOKEN=$(make -s token SUB={args.sub}) && "
        f'curl -H "Authorization: Bearer $TOKEN" {settings.public_base_url}/graphql\n'
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
