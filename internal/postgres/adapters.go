package postgres

// The adapters: one per domain package, each the Store seen as that package's Store
// interface. The naming rule: an adapter is named after the domain package it serves
// (postgres.Catalog implements catalog.Store, postgres.CertProfile certprofile.Store), so
// the wiring reads NewService(postgres.X{Store: store}) for package x.

// Learner adapts the Store to learner.Store.
type Learner struct{ *Store }

// Catalog adapts the Store to catalog.Store and catalog.AdminStore.
type Catalog struct{ *Store }

// CertProfile adapts the Store to certprofile.Store.
type CertProfile struct{ *Store }

// Transcript adapts the Store to transcript.Store.
type Transcript struct{ *Store }

// Renewal adapts the Store to renewal.Store.
type Renewal struct{ *Store }

// Merge adapts the Store to merge.Store.
type Merge struct{ *Store }

// Notify adapts the Store to notify.Store.
type Notify struct{ *Store }

// Team adapts the Store to team.Store.
type Team struct{ *Store }
