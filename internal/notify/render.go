package notify

import (
	"bytes"
	"embed"
	"fmt"
	"net/url"
	"strings"
	"text/template"

	"golang.org/x/text/language"

	"github.com/recert/recert/internal/date"
)

// The email templates, one file per language, each defining "subject" and "body" (plain text).
//
//go:embed templates/*.tmpl
var templateFiles embed.FS

// templateLanguages are the languages we have templates for; the first is the fallback.
var templateLanguages = []language.Tag{language.English, language.Japanese}

var languageMatcher = language.NewMatcher(templateLanguages)

// dateFormats writes a date the way each template language does.
var dateFormats = map[language.Tag]func(date.Date) string{
	language.English:  func(d date.Date) string { return d.Time().Format("2 January 2006") },
	language.Japanese: func(d date.Date) string { return fmt.Sprintf("%d年%d月%d日", d.Year, int(d.Month), d.Day) },
}

// emailData is what a template sees.
type emailData struct {
	LegalName     string
	Certification string
	ExpiresOn     string // the deadline: the assessment must be passed before this day
	DaysLeft      int
	RenewURL      string
	First         bool // the window-open reminder
}

type renderer struct {
	base      *url.URL
	templates map[language.Tag]*template.Template
}

func newRenderer(publicURL string) (*renderer, error) {
	base, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("notify: public URL %q: want http(s)://host[/path]", publicURL)
	}
	r := &renderer{base: base, templates: map[language.Tag]*template.Template{}}
	for _, tag := range templateLanguages {
		t, err := template.ParseFS(templateFiles, "templates/"+tag.String()+".tmpl")
		if err != nil {
			return nil, fmt.Errorf("notify: template %s: %w", tag, err)
		}
		for _, name := range []string{"subject", "body", "verifySubject", "verifyBody"} {
			if t.Lookup(name) == nil {
				return nil, fmt.Errorf("notify: template %s has no %q", tag, name)
			}
		}
		r.templates[tag] = t
	}
	return r, nil
}

// pickLanguage is the template language for a preferred language (a BCP 47 tag, maybe nil):
// the closest one we have, English otherwise.
func pickLanguage(preferred *string) language.Tag {
	if preferred == nil || *preferred == "" {
		return templateLanguages[0]
	}
	_, i, conf := languageMatcher.Match(language.Make(*preferred))
	if conf == language.No {
		return templateLanguages[0]
	}
	return templateLanguages[i]
}

// renewURL links the renewal assessment of a certification in the web app.
func (r *renderer) renewURL(code string) string {
	return r.base.JoinPath("certifications", code, "renew").String()
}

// message renders the email for p on today, in the profile's preferred language when we have
// a template for it.
func (r *renderer) message(p Pending, today date.Date) (Message, error) {
	tag := pickLanguage(p.Language)
	t := r.templates[tag]
	data := emailData{
		LegalName:     p.LegalName,
		Certification: p.CertificationName,
		ExpiresOn:     dateFormats[tag](p.CycleExpiresOn),
		DaysLeft:      daysBetween(today, p.CycleExpiresOn),
		RenewURL:      r.renewURL(p.CertificationCode),
		First:         p.Kind == KindWindowOpen,
	}
	var subject, body bytes.Buffer
	if err := t.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("render subject: %w", err)
	}
	if err := t.ExecuteTemplate(&body, "body", data); err != nil {
		return Message{}, fmt.Errorf("render body: %w", err)
	}
	return Message{
		ID:       p.ID.String(),
		To:       p.Email,
		Subject:  strings.Join(strings.Fields(subject.String()), " "),
		Text:     strings.TrimSpace(body.String()) + "\n",
		Language: tag.String(),
	}, nil
}

func daysBetween(from, to date.Date) int {
	return int(to.Time().Sub(from.Time()).Hours() / 24)
}
