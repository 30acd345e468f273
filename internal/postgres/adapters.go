package postgres

// Transcript adapts the Store to transcript.Store.
type Transcript struct{ *Store }

// Renewal adapts the Store to renewal.Store.
type Renewal struct{ *Store }

// Merges adapts the Store to merge.Store.
type Merges struct{ *Store }

// Notifications adapts the Store to notify.Store.
type Notifications struct{ *Store }
