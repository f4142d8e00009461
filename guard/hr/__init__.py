"""The HR lifecycle: resignations, terminations, withdrawals, handovers, departures, exposure."""
