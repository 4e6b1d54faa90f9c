def pytest_terminal_summary(terminalreporter):
    """How many hostile requests test_operation_survives_hostile_input sent, and 5xx among
    them (user properties travel from the xdist workers with each report)."""
    sent = failures = operations = 0
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            properties = dict(getattr(report, "user_properties", ()))
            if "hostile_cases" in properties:
                operations += 1
                sent += properties["hostile_cases"]
                failures += properties["hostile_5xx"]
    if operations:
        terminalreporter.write_line(
            f"hostile input: {sent} requests to {operations} operations, {failures} answered 5xx"
        )
