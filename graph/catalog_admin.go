package graph

import (
	"context"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
)

// UpsertExam is the resolver for the upsertExam field.
func (r *mutationResolver) UpsertExam(ctx context.Context, in model.UpsertExamInput) (*model.UpsertExamPayload, error) {
	e, err := r.Catalog.UpsertExam(ctx, auth.PrincipalFrom(ctx), catalog.ExamInput{
		Code: in.Code, Title: in.Title, Languages: in.Languages, RetiredOn: in.RetiredOn, Supersedes: in.Supersedes,
	})
	if err != nil {
		return nil, err
	}
	loaders(ctx).Exam.Clear(e.Code)
	return &model.UpsertExamPayload{Exam: &e}, nil
}

// UpsertCertification is the resolver for the upsertCertification field.
func (r *mutationResolver) UpsertCertification(ctx context.Context, in model.UpsertCertificationInput) (*model.UpsertCertificationPayload, error) {
	c, err := r.Catalog.UpsertCertification(ctx, auth.PrincipalFrom(ctx), catalog.CertificationInput{
		Code: in.Code, Name: in.Name, Level: in.Level, ReleasedOn: in.ReleasedOn, RetiredOn: in.RetiredOn,
		Languages: in.Languages, RequirementPaths: in.RequirementPaths, Prerequisites: in.Prerequisites,
	})
	if err != nil {
		return nil, err
	}
	l := loaders(ctx)
	l.Certification.Clear(c.ID)
	l.Paths.Clear(c.ID)
	l.Prerequisites.Clear(c.ID)
	return &model.UpsertCertificationPayload{Certification: &c}, nil
}

// PublishRenewalAssessment is the resolver for the publishRenewalAssessment field.
func (r *mutationResolver) PublishRenewalAssessment(ctx context.Context, in model.PublishRenewalAssessmentInput) (*model.PublishRenewalAssessmentPayload, error) {
	na := catalog.NewAssessment{CertificationCode: in.CertificationCode, PassingScore: in.PassingScore,
		QuestionsPerAttempt: in.QuestionsPerAttempt, IdempotencyKey: in.IdempotencyKey}
	for _, q := range in.Questions {
		cq := catalog.Question{Prompt: q.Prompt}
		for _, c := range q.Choices {
			cq.Choices = append(cq.Choices, catalog.Choice{Text: c.Text, Correct: c.Correct})
		}
		for _, t := range q.Translations {
			cq.Translations = append(cq.Translations, catalog.Translation{Language: t.Language, Prompt: t.Prompt, Choices: t.Choices})
		}
		na.Questions = append(na.Questions, cq)
	}
	for _, m := range in.LearningModules {
		na.Modules = append(na.Modules, catalog.Module{Title: m.Title, URL: m.URL})
	}
	a, err := r.Catalog.PublishAssessment(ctx, auth.PrincipalFrom(ctx), na)
	if err != nil {
		return nil, err
	}
	return &model.PublishRenewalAssessmentPayload{RenewalAssessment: &a}, nil
}
