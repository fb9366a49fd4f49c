"""The markdown function of the gofaas store (template python3-http).

It turns the Markdown in the request body into HTML with a small converter
of its own (standard library only). It knows headings, paragraphs, emphasis,
strong text, inline code, fenced code blocks, bulleted and numbered lists,
block quotes, horizontal rules and links; raw HTML in the input is escaped.
"""

import html
import re

HEADING = re.compile(r"^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
BULLET = re.compile(r"^ {0,3}[-*+]\s+(.*)$")
NUMBERED = re.compile(r"^ {0,3}\d{1,9}[.)]\s+(.*)$")
FENCE = re.compile(r"^ {0,3}(```+|~~~+)\s*([\w+#.-]*)")
RULE = re.compile(r"^ {0,3}([-*_])(?:\s*\1){2,}\s*$")
QUOTE = re.compile(r"^ {0,3}>\s?(.*)$")

CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"\[([^\]]+)\]\(\s*([^)\s]+)\s*\)")
STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
STAR_EM = re.compile(r"\*(?=\S)(.+?)(?<=\S)\*")
UNDERSCORE_EM = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
SAFE_URL = re.compile(r"^(https?:|mailto:|/|#|\./|\.\./|[\w.-]+(?:/|$))", re.IGNORECASE)


def handle(event, context):
    text = event.body.decode("utf-8", errors="replace")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "text/html; charset=utf-8"},
        "body": render(text),
    }


def render(text):
    """Returns the HTML for a Markdown document."""
    return Blocks(text.replace("\r\n", "\n").split("\n")).html()


def inline(text):
    """Converts the inline elements of one block of text."""
    saved = []

    def keep(fragment):
        saved.append(fragment)
        return "\x00%d\x00" % (len(saved) - 1)

    def code(m):
        return keep("<code>%s</code>" % html.escape(m.group(2).strip()))

    def link(m):
        url = m.group(2)
        if not SAFE_URL.match(url):
            url = "#"
        return keep('<a href="%s">%s</a>' % (html.escape(url), emphasis(html.escape(m.group(1), quote=False))))

    text = CODE_SPAN.sub(code, text.replace("\x00", ""))
    text = LINK.sub(link, text)
    text = emphasis(html.escape(text, quote=False))
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], text)


def emphasis(text):
    text = STRONG.sub(r"<strong>\2</strong>", text)
    text = STAR_EM.sub(r"<em>\1</em>", text)
    return UNDERSCORE_EM.sub(r"<em>\1</em>", text)


class Blocks:
    """Walks the lines of a document and collects HTML blocks."""

    def __init__(self, lines):
        self.lines = lines
        self.out = []
        self.para = []
        self.list_tag = None
        self.items = []

    def html(self):
        i = 0
        while i < len(self.lines):
            i = self.line(i)
        self.flush()
        return "\n".join(self.out) + ("\n" if self.out else "")

    def line(self, i):
        """Handles the line at i and returns the index of the next one."""
        line = self.lines[i]
        if not line.strip():
            self.flush()
            return i + 1
        fence = FENCE.match(line)
        if fence:
            return self.code_block(i, fence)
        if QUOTE.match(line):
            return self.quote(i)
        heading = HEADING.match(line)
        if heading:
            self.flush()
            level = len(heading.group(1))
            self.out.append("<h%d>%s</h%d>" % (level, inline(heading.group(2) or ""), level))
        elif RULE.match(line):
            self.flush()
            self.out.append("<hr>")
        elif BULLET.match(line):
            self.item("ul", BULLET.match(line).group(1))
        elif NUMBERED.match(line):
            self.item("ol", NUMBERED.match(line).group(1))
        elif self.list_tag and not self.para:
            self.items[-1] += " " + line.strip()
        else:
            self.para.append(line.strip())
        return i + 1

    def item(self, tag, text):
        self.flush_paragraph()
        if self.list_tag != tag:
            self.flush_list()
            self.list_tag = tag
        self.items.append(text.strip())

    def code_block(self, i, fence):
        self.flush()
        marker, lang = fence.group(1), fence.group(2)
        body = []
        i += 1
        while i < len(self.lines) and not self.lines[i].strip().startswith(marker):
            body.append(self.lines[i])
            i += 1
        attr = ' class="language-%s"' % html.escape(lang) if lang else ""
        code = html.escape("\n".join(body) + ("\n" if body else ""))
        self.out.append("<pre><code%s>%s</code></pre>" % (attr, code))
        return i + 1

    def quote(self, i):
        self.flush()
        inner = []
        while i < len(self.lines) and QUOTE.match(self.lines[i]):
            inner.append(QUOTE.match(self.lines[i]).group(1))
            i += 1
        self.out.append("<blockquote>\n%s</blockquote>" % render("\n".join(inner)))
        return i

    def flush(self):
        self.flush_paragraph()
        self.flush_list()

    def flush_paragraph(self):
        if self.para:
            self.out.append("<p>%s</p>" % inline("\n".join(self.para)))
            self.para = []

    def flush_list(self):
        if self.list_tag:
            items = "\n".join("<li>%s</li>" % inline(text) for text in self.items)
            self.out.append("<%s>\n%s\n</%s>" % (self.list_tag, items, self.list_tag))
            self.list_tag, self.items = None, []
