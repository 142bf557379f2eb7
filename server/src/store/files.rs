//! Attachments: file rows (bytes live content-addressed under the data dir), who may fetch them, and attaching them to messages.
