package team

import (
	"context"
	"encoding/csv"
	"io"
	"strings"

	"github.com/recert/recert/internal/auth"
)

// CSVHeader is the header row of the team export: one row per member and current
// certification, the fields of TeamMember and TeamMemberCertification in the API.
var CSVHeader = []string{"mcid", "legalName", "certificationCode", "certificationName", "level", "status",
	"earnedOn", "expiresOn", "renewalWindowOpensOn", "nextAction"}

// CSVRows are the export rows of one member: one per current certification, or one with the
// certification columns empty when it holds none.
func CSVRows(m Member) [][]string {
	if len(m.Certifications) == 0 {
		return [][]string{{m.MCIDString(), cell(m.LegalName), "", "", "", "", "", "", "", ""}}
	}
	rows := make([][]string, len(m.Certifications))
	for i, c := range m.Certifications {
		expires, window := "", ""
		if c.ExpiresOn != nil {
			expires = c.ExpiresOn.String()
		}
		if c.WindowOpensOn != nil {
			window = c.WindowOpensOn.String()
		}
		rows[i] = []string{m.MCIDString(), cell(m.LegalName), c.Code, cell(c.Name), string(c.Level), string(c.Status),
			c.EarnedOn.String(), expires, window, string(c.NextAction)}
	}
	return rows
}

// cell keeps a text that a spreadsheet would run as a formula (it starts with =, +, -, @, a
// tab or a carriage return) as text, by a leading apostrophe.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteCSV streams the team p manages as CSV (CSVHeader, then CSVRows of each member in the
// order of Members) to the writer begin returns; begin runs once p is known to be a manager
// and the filter valid, so a caller can still answer an error before it. Memory stays
// constant whatever the size of the team. Codes: FORBIDDEN, BAD_USER_INPUT.
func (s *Service) WriteCSV(ctx context.Context, p *auth.Principal, f Filter, begin func() io.Writer) error {
	var w *csv.Writer
	open := func() error {
		w = csv.NewWriter(begin())
		return w.Write(CSVHeader)
	}
	err := s.Export(ctx, p, f, open, func(m Member) error {
		if err := w.WriteAll(CSVRows(m)); err != nil { // WriteAll flushes: rows leave as they come
			return err
		}
		return nil
	})
	if w != nil {
		w.Flush()
		if err == nil {
			err = w.Error()
		}
	}
	return err
}
