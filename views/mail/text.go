package mail

import "strings"

// Text is the plain-text part of a message: the same Content as HTML, in
// the order it shows, links written out.
func Text(c Content) string {
	var b strings.Builder
	block := func(lines ...string) {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		for _, l := range lines {
			b.WriteString(l)
			b.WriteString("\n")
		}
	}
	block(c.Brand)
	block(c.Heading)
	for _, p := range c.Paragraphs {
		block(p)
	}
	if len(c.Facts) > 0 {
		lines := make([]string, len(c.Facts))
		for i, f := range c.Facts {
			lines[i] = f.Label + ": " + f.Value
		}
		block(lines...)
	}
	if c.Button != nil {
		block(c.Button.Label+":", c.Button.URL)
	}
	for _, n := range c.Notes {
		block(n)
	}
	footer := []string{"-- ", c.Footer}
	if c.Unsubscribe != "" {
		footer = append(footer, "Unsubscribe from these emails: "+c.Unsubscribe)
	}
	block(footer...)
	return b.String()
}
