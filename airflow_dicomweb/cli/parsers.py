"""How every subcommand's parser is made: its help, description and examples, laid out as written; and its
numeric options, each showing its default (from :mod:`airflow_dicomweb.core.defaults`) in its help."""

from __future__ import annotations

import argparse


def add_command(
    commands: argparse._SubParsersAction, name: str, summary: str, description: str, examples: str
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_number(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *flags: str,
    kind: type[int] | type[float],
    default: float,
    metavar: str,
    help: str,
) -> None:
    """A numeric option whose help ends with its default, as argparse fills it in."""
    parser.add_argument(*flags, type=kind, default=default, metavar=metavar, help=f"{help} (%(default)s)")
