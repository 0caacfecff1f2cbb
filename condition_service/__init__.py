"""condition_service: raw workbook sheets -> qplan streams v1 text + a list of data problems."""
