"""Small template helpers shared by the shell's pages (avatars, icons, language tags).

Avatar colours and initials follow the same rule as ``static/frontend/js/ui.js`` so a person
looks the same whether the server or a script drew them.
"""
from django import template
from django.utils.html import format_html

register = template.Library()


def avatar_hue(user_id: int | None) -> int:
    """A stable hue per user id, spread around the colour wheel (golden-angle steps)."""
    return (int(user_id or 0) * 137) % 360


def initials(name: str) -> str:
    """Two letters for Latin names ("Mei Lin" → "ML", "director" → "DI"); for a name with
    Chinese characters, its first one, the family name ("林导演 Director Lin" → "林")."""
    name = (name or "").strip()
    if not name:
        return "?"
    for ch in name:
        if "\u4e00" <= ch <= "\u9fff":
            return ch
    words = [w for w in name.replace("_", " ").replace(".", " ").replace("-", " ").split() if w]
    if len(words) >= 2:
        return (words[0][0] + words[1][0]).upper()
    return words[0][:2].upper() if words else name[:2].upper()


def display_name(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


@register.simple_tag
def avatar(user, size=""):
    """``{% avatar user "sm" %}``: a round badge with initials, coloured by user id."""
    if user is None:
        size_class = f" avatar-{size}" if size else ""
        return format_html('<span class="avatar avatar-empty{}" aria-hidden="true">–</span>', size_class)
    name = display_name(user)
    return format_html(
        '<span class="avatar{}" style="--avatar-bg: hsl({} 42% 40%)" title="{}" aria-hidden="true">{}</span>',
        f" avatar-{size}" if size else "", avatar_hue(user.pk), name, initials(name),
    )


@register.simple_tag
def icon(name, extra_class=""):
    """``{% icon "bell" %}``: a symbol from ``_icons.html``, decorative (labels go on the control)."""
    return format_html('<svg class="icon{}" aria-hidden="true" focusable="false"><use href="#i-{}"></use></svg>',
                       f" {extra_class}" if extra_class else "", name)


@register.filter
def bcp47(language_code: str) -> str:
    """Django's ``zh-hans`` as the BCP 47 tag browsers and Intl expect (``zh-Hans``)."""
    parts = (language_code or "en").split("-")
    return "-".join([parts[0].lower()] + [p.title() if len(p) == 4 else p.upper() for p in parts[1:]])


@register.simple_tag(takes_context=True)
def shell_boot(context):
    """What shell.js needs on every signed-in page: who I am and which project is open."""
    from django.utils.html import json_script

    request = context.get("request")
    user = getattr(request, "user", None)
    project = context.get("project") if context.get("membership") else None
    data = {
        "user": {"id": user.pk, "username": user.get_username(), "name": display_name(user)} if user else None,
        "project": {"id": project.pk, "name": project.name} if project is not None else None,
    }
    return json_script(data, "shell-boot")
