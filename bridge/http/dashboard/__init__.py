"""The dashboard: one module per screen, plus the view helpers they share (views.py).

Screens: Numbers (numbers.py), Leads and a lead's page (leads.py), Activity (activity.py),
Rules (rules.py), the rule editor (editor.py), AI Suggest (suggest.py, a thin view over
engine.suggest), Links (links.py), a lead's Import chat history (chat_import.py).
"""
