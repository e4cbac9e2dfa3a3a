"""``airflow dicomweb``: the provider's group in Airflow's command line. Loaded by Airflow's CLI parser from
the provider info's ``cli`` entry; the commands themselves are imported only when run."""

from __future__ import annotations

from typing import Any


def get_dicomweb_cli_commands() -> list[Any]:
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand, lazy_load_command

    conn_id = Arg(("conn_id",), help="the connection: dicomweb, dimse or dicom_deid_key")
    return [
        GroupCommand(
            name="dicomweb",
            help="The DICOMweb provider: check its connections",
            subcommands=(
                ActionCommand(
                    name="test-connection",
                    help="Test a dicomweb (a search), dimse (a C-ECHO) or dicom_deid_key (the key's rules) "
                    "connection as the workers would see it, naming what is wrong and never a secret",
                    func=lazy_load_command("airflow_dicomweb.airflow_cli.commands.test_connection"),
                    args=(conn_id,),
                ),
            ),
        )
    ]
