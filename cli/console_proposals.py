"""The console's view of governance proposal files, over the CLI's own reader and writer
(cli/proposal_file.py): the console (web/) sits below the CLI, so the CLI hands it this
store rather than the console importing the file format."""

from __future__ import annotations

from pathlib import Path

import nacl.signing

from cli.proposal_file import ProposalError, ProposalFile
from web.console.proposals import Proposal, ProposalProblem, check_name


class FileProposals:
    """Every *.json proposal file in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def proposals(self) -> list[Proposal | tuple[str, str]]:
        out: list[Proposal | tuple[str, str]] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                out.append(self._read(path))
            except (ProposalError, ProposalProblem) as e:
                out.append((path.name, str(e).replace(str(path), path.name)))
        return out

    def _read(self, path: Path) -> Proposal:
        check_name(path.name)
        pf = ProposalFile.load(path)
        p = pf.proposal
        return Proposal(path.name, p.channel, p.sequence, pf.summary, tuple(pf.approvals))

    def approve(self, name: str, key: nacl.signing.SigningKey) -> Proposal:
        path = self.directory / check_name(name)
        try:
            pf = ProposalFile.load(path)
            pf.add_approval(key)
            pf.save(path)
        except ProposalError as e:
            raise ProposalProblem(str(e).replace(str(path), name)) from None
        return self._read(path)
