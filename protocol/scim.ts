// SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol) as /scim/v2 speaks it: the bodies an identity provider
// sends (Entra ID and Okta included, with their quirks: `op` in any case, booleans as "True"/"False"), the
// resources and lists we answer, and the admin API for the SCIM bearer tokens. Extension attributes are let
// through by `.passthrough()` (SCIM allows them) but never read: only the attributes named here are stored.
import { z } from "zod";

export const SCIM_CONTENT_TYPE = "application/scim+json";
export const SCIM_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const SCIM_GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const SCIM_ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const SCIM_LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const SCIM_PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";

/** The SCIM bearer token's kind: `psm-scim+` and 32 random bytes (base64url). Stored as SHA-256 only. */
export const SCIM_TOKEN_PREFIX = "psm-scim+";
export const ScimBearer = z.string().regex(/^psm-scim\+[A-Za-z0-9_-]{43}$/);

/** Most results one list page holds (ServiceProviderConfig's filter.maxResults). */
export const SCIM_MAX_RESULTS = 200;
/** Most operations in one PATCH, and most members in one group body. */
export const SCIM_MAX_OPERATIONS = 100;
export const SCIM_MAX_MEMBERS = 1000;

/** A SCIM boolean: Entra ID sends "True"/"False" as strings. Read with `scimBoolean`. */
export const ScimBoolean = z.union([z.boolean(), z.string().regex(/^(true|false)$/i)]);
export const scimBoolean = (v: z.infer<typeof ScimBoolean>): boolean =>
  typeof v === "boolean" ? v : v.toLowerCase() === "true";

/** Same rule as a local username (protocol/api.ts): Entra's UPN and Okta's login fit it. */
export const ScimUserName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/);
const text = (max: number) => z.string().max(max);
export const ScimExternalId = z.string().min(1).max(256);

const ScimName = z
  .object({ givenName: text(128).nullish(), familyName: text(128).nullish(), formatted: text(256).nullish() })
  .passthrough();
const ScimEmail = z
  .object({ value: z.string().trim().max(254), type: text(32).nullish(), primary: ScimBoolean.nullish() })
  .passthrough();

/** POST and PUT /Users. `password` is refused by the handler: provisioned users sign in through SSO. */
export const ScimUserBody = z
  .object({
    schemas: z.array(text(256)).max(10).optional(),
    userName: ScimUserName,
    externalId: ScimExternalId.nullish(),
    name: ScimName.nullish(),
    displayName: text(256).nullish(),
    emails: z.array(ScimEmail).max(20).nullish(),
    active: ScimBoolean.optional(),
  })
  .passthrough();
export type ScimUserBody = z.infer<typeof ScimUserBody>;

export const ScimMemberRef = z
  .object({ value: z.string().min(1).max(64), display: text(256).nullish(), $ref: text(512).nullish() })
  .passthrough();

/** POST and PUT /Groups. Okta sends membership changes as a PUT with the whole member list. */
export const ScimGroupBody = z
  .object({
    schemas: z.array(text(256)).max(10).optional(),
    displayName: z.string().trim().min(1).max(128),
    externalId: ScimExternalId.nullish(),
    members: z.array(ScimMemberRef).max(SCIM_MAX_MEMBERS).nullish(),
  })
  .passthrough();
export type ScimGroupBody = z.infer<typeof ScimGroupBody>;

/** One PATCH operation; `op` in any case (Entra ID sends "Replace", "Add"). The value is checked per path. */
export const ScimPatchOperation = z
  .object({
    op: z.string().regex(/^(add|replace|remove)$/i),
    path: z.string().min(1).max(512).optional(),
    value: z.unknown().optional(),
  })
  .passthrough();
export type ScimPatchOperation = z.infer<typeof ScimPatchOperation>;
export const ScimPatchBody = z
  .object({
    schemas: z.array(text(256)).max(10).optional(),
    Operations: z.array(ScimPatchOperation).min(1).max(SCIM_MAX_OPERATIONS),
  })
  .passthrough();

/** GET /Users and /Groups. Out-of-range numbers are clamped as RFC 7644 §3.4.2.4 says (startIndex < 1 is 1). */
export const ScimListQuery = z.object({
  filter: z.string().max(512).optional(),
  startIndex: z.coerce.number().int().optional(),
  count: z.coerce.number().int().optional(),
  attributes: z.string().max(512).optional(),
  excludedAttributes: z.string().max(512).optional(),
});

const Meta = z.object({
  resourceType: z.enum(["User", "Group"]),
  created: z.string(),
  lastModified: z.string(),
  location: z.string(),
});

export const ScimUser = z.object({
  schemas: z.array(z.string()),
  id: z.string(),
  externalId: z.string().optional(),
  userName: z.string(),
  name: z.object({ givenName: z.string().optional(), familyName: z.string().optional() }).optional(),
  displayName: z.string().optional(),
  emails: z.array(z.object({ value: z.string(), type: z.string(), primary: z.boolean() })).optional(),
  active: z.boolean(),
  groups: z.array(z.object({ value: z.string(), display: z.string(), $ref: z.string() })),
  meta: Meta,
});
export type ScimUser = z.infer<typeof ScimUser>;

export const ScimGroup = z.object({
  schemas: z.array(z.string()),
  id: z.string(),
  externalId: z.string().optional(),
  displayName: z.string(),
  members: z.array(z.object({ value: z.string(), display: z.string(), $ref: z.string() })).optional(),
  meta: Meta,
});
export type ScimGroup = z.infer<typeof ScimGroup>;

export const ScimListResponse = z.object({
  schemas: z.array(z.string()),
  totalResults: z.number().int(),
  startIndex: z.number().int(),
  itemsPerPage: z.number().int(),
  Resources: z.array(z.unknown()),
});

export const ScimError = z.object({
  schemas: z.array(z.string()),
  status: z.string(),
  scimType: z.string().optional(),
  detail: z.string().optional(),
});

/** Discovery documents (/ServiceProviderConfig, /ResourceTypes, /Schemas): fixed JSON. */
export const ScimDocument = z.record(z.string(), z.unknown());

// The admin API for SCIM tokens (/api/scim-tokens, global admins).
export const CreateScimTokenRequest = z.strictObject({ name: z.string().trim().min(1).max(128) });
export const ScimTokenSummary = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.number().int(),
  createdBy: z.string(),
  lastUsedAt: z.number().int().nullable(),
  revokedAt: z.number().int().nullable(),
});
export type ScimTokenSummary = z.infer<typeof ScimTokenSummary>;
/** The token itself is in this answer only; the edge keeps its hash. */
export const CreatedScimToken = ScimTokenSummary.extend({ token: ScimBearer });
