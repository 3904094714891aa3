"""The demo clinic's seeded data: four doctors and their weekly hours, and a few patients."""

from __future__ import annotations

# (id, first, last, specialty)
DOCTORS = [
    ("patel", "Anita", "Patel", "family medicine"),
    ("nguyen", "Linh", "Nguyen", "family medicine"),
    ("park", "James", "Park", "pediatrics"),
    ("lopez", "Sofia", "Lopez", "dermatology"),
]

_WEEKDAYS = range(5)

# (doctor id, weekday 0=Monday, first slot, end of the day); 30-minute slots.
SCHEDULES = [
    *(("patel", d, "09:00", "17:00") for d in _WEEKDAYS),
    *(("nguyen", d, "08:00", "16:00") for d in _WEEKDAYS),
    *(("park", d, "09:00", "15:00") for d in (0, 2, 4)),
    *(("lopez", d, "10:00", "18:00") for d in (1, 3)),
]

# (id, first, last, date of birth, phone)
PATIENTS = [
    ("pat_maria", "Maria", "Garcia", "1984-03-12", "+15550100"),
    ("pat_john", "John", "Smith", "1990-07-04", "+15550101"),
    ("pat_emily", "Emily", "Johnson", "1978-05-05", "+15550102"),
    ("pat_david", "David", "Miller", "1965-06-02", "+15550103"),
    ("pat_sarah", "Sarah", "Thompson", "2000-10-01", "+15550104"),
]
