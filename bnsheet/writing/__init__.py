"""The build side: template and inputs in, a workbook of live formulas written out (no engine, no reader)."""
