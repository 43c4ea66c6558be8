"""The read side: vetting a workbook someone sent, then reading its names, formulas and stored values."""
