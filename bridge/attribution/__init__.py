"""Attribution (issue #6): the click service (`service.py`), its settings and the partner
channels' settings (`settings.py`), and the rotator that picks a CONNECTED number (`rotator.py`).
"""
