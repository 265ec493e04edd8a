package plan

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the cell as one JSON object, byte for byte what
// encoding/json writes for it, without reflection: `monogres plan --json`
// streams millions of cells. Cells from Each carry their Postgres cell's
// part ready-made.
func (c *Cell) AppendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, c.Name)
	if c.baseJSON != nil {
		b = append(b, c.baseJSON...)
	} else {
		b = c.appendBase(b)
	}
	for _, f := range [...]struct{ key, v string }{
		{`,"extension":`, c.Extension}, {`,"extension_version":`, c.ExtensionVersion},
		{`,"extension_input":`, c.ExtensionInput}, {`,"build":`, c.Build}, {`,"parent":`, c.Parent},
	} {
		if f.v != "" {
			b = append(b, f.key...)
			b = appendString(b, f.v)
		}
	}
	return append(b, '}')
}

// appendBase appends the fields an extension cell shares with its Postgres
// cell: from "postgres" to "dropped".
func (c *Cell) appendBase(b []byte) []byte {
	b = append(b, `,"postgres":`...)
	b = appendString(b, c.Postgres.String())
	b = append(b, `,"input":`...)
	b = appendString(b, c.Input)
	b = append(b, `,"option_set":`...)
	b = appendString(b, string(c.OptionSet))
	b = append(b, `,"arch":`...)
	b = appendString(b, string(c.Arch))
	b = append(b, `,"options":`...)
	if c.Options == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, o := range c.Options {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, string(o))
		}
		b = append(b, ']')
	}
	if len(c.Dropped) > 0 {
		b = append(b, `,"dropped":[`...)
		for i, d := range c.Dropped {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"option":`...)
			b = appendString(b, string(d.Option))
			b = append(b, `,"reason":`...)
			b = appendString(b, d.Reason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return b
}

// appendString quotes s as encoding/json does (with its HTML escaping).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = strconv.AppendInt(b, int64(r&0xf), 16)
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
