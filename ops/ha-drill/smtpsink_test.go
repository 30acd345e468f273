package main

import "testing"

// The sink reads a reminder's notification id from its Message-ID, and nothing from others.
func TestReminderIDFromMessageID(t *testing.T) {
	for in, want := range map[string]string{
		"<reminder-0b7e5d3e-95e5-4f0e-9c5b-3b0f7c2f6a11@example.test>": "0b7e5d3e-95e5-4f0e-9c5b-3b0f7c2f6a11",
		"reminder-42@localhost": "42",
		"<verify-42@localhost>": "",
		"<reminder-@localhost>": "",
		"a@b|Subject":           "",
	} {
		got, ok := reminderID(in)
		if got != want || ok != (want != "") {
			t.Errorf("reminderID(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
