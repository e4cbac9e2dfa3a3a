"""The command's exit codes: documented, distinct, and the same for every subcommand."""

OK = 0
#: The command ran, but some items failed (a file not stored, a failed operation).
ITEMS_FAILED = 1
#: The command line or the configuration is wrong (argparse uses 2 as well).
USAGE = 2
#: The server or the network failed after the retries (HTTP errors, timeouts, unreadable responses).
SERVER = 3
#: An unexpected error inside the command (a bug): one line on stderr, the traceback only with --debug.
INTERNAL = 4
#: Interrupted (Ctrl-C): 128 + SIGINT, as shells report it.
INTERRUPTED = 130
