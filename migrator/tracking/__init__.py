"""The tracking workbook read back: status per step, progress, and carrying tracking into a new plan.

Reading the workbook is input, so it lives apart from the renderer that
writes it; python-calamine reads values (not styles) quickly.
"""

from __future__ import annotations

from migrator.tracking.model import CarryOver, Status, StepTracking, Tracking

__all__ = ["CarryOver", "Status", "StepTracking", "Tracking"]
