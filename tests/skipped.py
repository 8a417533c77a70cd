"""Lists the skipped tests of a `dotnet test` run with their reasons, read from its trx reports.

Usage: skipped.py RESULTS_DIR LABEL. Prints one line a skipped test (name: reason) and a count, so a
skip is never silent: the reason is the message the test gave to Skip.If / Skip.IfNot.
"""
import glob
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}


def main() -> None:
    directory, label = sys.argv[1], sys.argv[2]
    skipped = []
    for path in glob.glob(f"{directory}/**/*.trx", recursive=True):
        root = ET.parse(path).getroot()
        for result in root.iterfind(".//t:UnitTestResult", NS):
            if result.get("outcome") != "NotExecuted":
                continue
            message = result.find("t:Output/t:ErrorInfo/t:Message", NS)
            if message is None:
                message = result.find("t:Output/t:StdOut", NS)
            reason = (message.text or "").strip().splitlines()[0] if message is not None and message.text else "no reason given"
            skipped.append((result.get("testName", "?"), reason))
    print(f"== skipped in this pass ({label}): {len(skipped)}")
    for name, reason in sorted(skipped):
        print(f"  skipped {name}: {reason}")


if __name__ == "__main__":
    main()
