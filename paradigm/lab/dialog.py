"""The start dialog of a lab session (PsychoPy's gui): participant, session, group, language."""
from __future__ import annotations


def ask_start(protocol):
    """Show the dialog; return ``{"participant", "session", "group", "language"}`` or None if cancelled."""
    from psychopy import gui

    info = {"participant": "", "session": 1}
    order = ["participant", "session"]
    if protocol.factors.group.kind == "natural":
        info["group"] = list(protocol.factors.group.participant_levels)
        order.append("group")
    languages = [protocol.language, *[lang for lang in protocol.instructions if lang != protocol.language]]
    if len(languages) > 1:
        info["language"] = languages
        order.append("language")
    dialog = gui.DlgFromDict(info, title=protocol.title or protocol.name, order=order,
                             tip={"participant": "letters and digits; the number sets the counterbalancing slot"})
    if not dialog.OK:
        return None
    try:
        session = int(info["session"])
    except (TypeError, ValueError):
        session = info["session"]
    return {"participant": str(info["participant"]).strip(), "session": session,
            "group": info.get("group"), "language": info.get("language")}
