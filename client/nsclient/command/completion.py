"""Print a shell completion script for bash or zsh.

eval "$(nsclient completion bash)"      # in ~/.bashrc
eval "$(nsclient completion zsh)"       # in ~/.zshrc
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient.command.common import add_parser

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  eval "$(nsclient completion bash)"
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("shell", choices=("bash", "zsh"), metavar="<bash|zsh>")
    # Every subcommand is registered by the time this one runs: the script is read from the parsers.
    parser.set_defaults(subcommands=subparsers)


def _words(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, list[str]]:
    return {
        name: sorted(o for action in sub._actions for o in action.option_strings if o.startswith("--"))
        for name, sub in subparsers.choices.items()
    }


def script(shell: str, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> str:
    words = _words(subparsers)
    cases = "\n".join(f'        {name}) opts="{" ".join(options)}" ;;' for name, options in words.items())
    body = f"""_nsclient() {{
    local cur command opts
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    command="${{COMP_WORDS[1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur"))
        return
    fi
    case "$command" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _nsclient nsclient
"""
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + body
    return body


def run(opts: argparse.Namespace) -> int:
    print(script(opts.shell, opts.subcommands), end="")
    return 0
