"""The spoken eval suite: scenario files, simulated callers, judging by state, reports."""
