package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
)

// ptrs turns a slice of values into a slice of pointers to its elements, the shape gqlgen
// wants for lists of bound objects.
func ptrs[T any](list []T) []*T {
	out := make([]*T, len(list))
	for i := range list {
		out[i] = &list[i]
	}
	return out
}

// wantsField reports whether the current field's selection asks for name (used to skip a
// COUNT(*) nobody asked for).
func wantsField(ctx context.Context, name string) bool {
	return slices.Contains(graphql.CollectAllFields(ctx), name)
}

// Certifications is the resolver for the certifications field.
func (r *queryResolver) Certifications(ctx context.Context, first *int, after *string, filter *model.CertificationFilter) (*model.CertificationConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	keys, err := decodeCursor(after, 1)
	if err != nil {
		return nil, err
	}
	var f catalog.Filter
	if filter != nil {
		f.Level, f.Renewable = filter.Level, filter.Renewable
		if filter.Search != nil {
			f.Search = *filter.Search
		}
	}
	afterCode := ""
	if keys != nil {
		afterCode = keys[0]
	}
	items, more, err := r.Catalog.List(ctx, auth.PrincipalFrom(ctx), f, afterCode, n)
	if err != nil {
		return nil, err
	}
	conn := &model.CertificationConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(items, more, after, self,
		func(c *catalog.Certification) string { return encodeCursor(c.Code) },
		func(cur string, c *catalog.Certification) *model.CertificationEdge {
			return &model.CertificationEdge{Cursor: cur, Node: c}
		})
	if wantsField(ctx, "totalCount") {
		if conn.TotalCount, err = r.Catalog.Count(ctx, auth.PrincipalFrom(ctx), f); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// RequirementPaths is the resolver for the requirementPaths field.
func (r *certificationResolver) RequirementPaths(ctx context.Context, c *catalog.Certification) ([][]*catalog.Exam, error) {
	paths, err := loaders(ctx).Paths.Load(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := make([][]*catalog.Exam, len(paths))
	for i, p := range paths {
		exams, err := loaders(ctx).Exam.LoadAll(ctx, p)
		if err != nil {
			return nil, err
		}
		out[i] = exams
	}
	return out, nil
}

// Certification is the resolver for the certification field.
func (r *queryResolver) Certification(ctx context.Context, code string) (*catalog.Certification, error) {
	c, err := r.Catalog.ByCode(ctx, auth.PrincipalFrom(ctx), code)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Prerequisites is the resolver for the prerequisites field.
func (r *certificationResolver) Prerequisites(ctx context.Context, obj *catalog.Certification) ([]*catalog.Certification, error) {
	list, err := loaders(ctx).Prerequisites.Load(ctx, obj.ID)
	return ptrs(list), err
}

// RenewalAssessment is the resolver for the renewalAssessment field.
func (r *certificationResolver) RenewalAssessment(ctx context.Context, obj *catalog.Certification) (*catalog.Assessment, error) {
	return loaders(ctx).Assessment.Load(ctx, obj.ID)
}

// ID is the resolver for the id field.
func (r *examResolver) ID(ctx context.Context, obj *catalog.Exam) (string, error) {
	return encodeKeyID(kindExam, obj.Code), nil
}

// Supersedes is the resolver for the supersedes field.
func (r *examResolver) Supersedes(ctx context.Context, obj *catalog.Exam) (*catalog.Exam, error) {
	if obj.Supersedes == nil {
		return nil, nil
	}
	return loaders(ctx).Exam.Load(ctx, *obj.Supersedes)
}

// Certification is the resolver for the certification field.
func (r *renewalAssessmentResolver) Certification(ctx context.Context, obj *catalog.Assessment) (*catalog.Certification, error) {
	return loaders(ctx).Certification.Load(ctx, obj.CertificationID)
}

// LearningModules is the resolver for the learningModules field.
func (r *renewalAssessmentResolver) LearningModules(ctx context.Context, obj *catalog.Assessment) ([]*catalog.Module, error) {
	list, err := loaders(ctx).Modules.Load(ctx, obj.ID)
	return ptrs(list), err
}
