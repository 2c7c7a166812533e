// Validation against the acp-fhir profiles (profiles/*.json), for validate.mjs.
//
// @medplum/core `validateResource(resource, { profile })` checks a resource against one of our
// StructureDefinitions (their snapshots): cardinalities (including max 0), fixed and pattern
// values, slice counts (extension slices by url, category/section slices by pattern) and the
// profile's FHIRPath invariants. What it does not do is done here, and said so in every message:
//   - extensions: every extension on a resource that claims one of our profiles must be one of our
//     extensions (our profiles slice extensions closed), and each is validated on its own against
//     its StructureDefinition with `validateTypedValue` (url, parts, cardinalities);
//   - required bindings to our ValueSets (Medplum does not evaluate bindings): each coded value
//     at an element bound `required` to one of our ValueSets must be in it (a CodeableConcept
//     with codings needs one coding in it; text alone is allowed).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource, validateTypedValue } from '@medplum/core';

export const CANONICAL_BASE = 'https://acp-fhir.example.org/fhir/';
const SD_BASE = `${CANONICAL_BASE}StructureDefinition/`;

function issuesOf(fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue ?? [];
    return [{ severity: 'fatal', details: { text: `validator crashed: ${err}` } }];
  }
}

function describe(issue) {
  let message = issue.details?.text ?? issue.diagnostics ?? '(no message)';
  if (issue.code === 'invariant' || issue.code === 'processing') {
    try {
      const data = JSON.parse(issue.diagnostics ?? '{}');
      if (data.fhirpath && issue.code === 'processing') message += ` (${data.fhirpath})`;
      if (data.error) message += `: ${typeof data.error === 'string' ? data.error : JSON.stringify(data.error)}`;
    } catch {
      // diagnostics is not JSON
    }
  }
  return message;
}

export class Profiles {
  /** Loads and indexes every StructureDefinition, ValueSet and CodeSystem in `dir`. */
  constructor(dir) {
    this.structureDefinitions = new Map();
    this.valueSets = new Map();
    this.codeSystems = new Map();
    const sds = [];
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const resource = JSON.parse(readFileSync(path.join(dir, name), 'utf8'));
      if (resource.resourceType === 'StructureDefinition') {
        this.structureDefinitions.set(resource.url, resource);
        sds.push(resource);
      } else if (resource.resourceType === 'ValueSet') {
        this.valueSets.set(resource.url, resource);
      } else if (resource.resourceType === 'CodeSystem') {
        this.codeSystems.set(resource.url, resource);
      }
    }
    // What Medplum indexes and validates against: for a resource profile, a copy without the parts
    // of complex extensions that the profile unfolds (see forMedplum); extensions are validated on
    // their own against their StructureDefinitions (checkExtension).
    this.forMedplum = new Map(sds.map((sd) => [sd.url, forMedplum(sd)]));
    indexStructureDefinitionBundle([...this.forMedplum.values()]);
    this.expansions = new Map();
  }

  /** Our profile URLs that the resource claims (meta.profile), known or not. */
  claimed(resource) {
    return (resource.meta?.profile ?? []).filter((url) => url.startsWith(CANONICAL_BASE));
  }

  /** Issues of one resource against every one of our profiles it claims: [{severity, path, message}]. */
  validate(resource) {
    const issues = [];
    // A summary (_summary, _elements) is tagged SUBSETTED and need not conform to its profiles
    // (FHIR R4 search, "Summary"): base R4 is still checked by the other validators.
    if (subsetted(resource)) {
      return [{ severity: 'information', path: resource.resourceType, message: 'SUBSETTED: not validated against its profiles' }];
    }
    const claimed = this.claimed(resource);
    for (const url of claimed) {
      const sd = this.structureDefinitions.get(url);
      if (!sd || sd.type !== resource.resourceType) {
        issues.push({ severity: 'error', path: `${resource.resourceType}.meta.profile`, message: `unknown profile ${url}` });
        continue;
      }
      const profile = this.forMedplum.get(url);
      for (const issue of issuesOf(() => validateResource(resource, { profile }))) {
        issues.push({ severity: issue.severity, path: issue.expression?.[0] ?? '', message: describe(issue) });
      }
      issues.push(...this.checkBindings(sd, resource, resource.resourceType));
    }
    if (claimed.length > 0) issues.push(...this.checkExtensions(resource, resource.resourceType));
    return issues;
  }

  // -------------------------------------------------------------------------------------------
  // Extensions

  checkExtensions(value, where) {
    const issues = [];
    if (Array.isArray(value)) {
      value.forEach((item, i) => issues.push(...this.checkExtensions(item, `${where}[${i}]`)));
      return issues;
    }
    if (!value || typeof value !== 'object') return issues;
    for (const [key, child] of Object.entries(value)) {
      if ((key === 'extension' || key === 'modifierExtension') && Array.isArray(child)) {
        child.forEach((ext, i) => issues.push(...this.checkExtension(ext, `${where}.${key}[${i}]`)));
      } else if (key !== 'resourceType') {
        issues.push(...this.checkExtensions(child, `${where}.${key}`));
      }
    }
    return issues;
  }

  checkExtension(ext, where) {
    const url = ext?.url ?? '';
    const sd = this.structureDefinitions.get(url);
    if (!url.startsWith(SD_BASE) || !sd || sd.type !== 'Extension') {
      return [{ severity: 'error', path: where, message: `extension ${url} is not one of the acp-fhir extensions (closed slicing)` }];
    }
    const issues = issuesOf(() => validateTypedValue({ type: 'Extension', value: ext }, { profile: sd })).map((issue) => ({
      severity: issue.severity,
      path: (issue.expression?.[0] ?? '').replace(/^Extension/, where),
      message: `${describe(issue)} (extension ${sd.id})`,
    }));
    issues.push(...this.checkBindings(sd, ext, where));
    // A part of a complex extension may carry extensions of its own (e.g. clinician-details on
    // the clinician Reference of respect-form): those are checked as extensions too.
    for (const [i, part] of (ext.extension ?? []).entries()) {
      for (const [key, value] of Object.entries(part ?? {})) {
        if (key.startsWith('value')) issues.push(...this.checkExtensions(value, `${where}.extension[${i}].${key}`));
      }
    }
    for (const [key, value] of Object.entries(ext)) {
      if (key.startsWith('value')) issues.push(...this.checkExtensions(value, `${where}.${key}`));
    }
    return issues;
  }

  // -------------------------------------------------------------------------------------------
  // Required bindings to our ValueSets

  checkBindings(sd, root, where) {
    const issues = [];
    for (const element of sd.snapshot?.element ?? []) {
      const binding = element.binding;
      if (binding?.strength !== 'required' || !binding.valueSet) continue;
      const vsUrl = binding.valueSet.split('|')[0];
      if (!this.valueSets.has(vsUrl)) continue; // HL7 value sets: FHIR.js checks those of base R4
      const steps = this.stepsOf(element.id, sd.type);
      if (!steps) continue;
      for (const { value, at } of select(root, steps, where)) {
        if (!this.inValueSet(vsUrl, value)) {
          issues.push({
            severity: 'error',
            path: at,
            message: `code ${JSON.stringify(codesOf(value))} is not in the required value set ${vsUrl} (binding)`,
          });
        }
      }
    }
    return issues;
  }

  // An element id as steps from the root; null for slices other than a complex extension's parts.
  stepsOf(id, type) {
    const parts = id.split('.');
    if (parts[0] !== type) return null;
    const steps = [];
    for (const part of parts.slice(1)) {
      const [name, slice] = part.split(':');
      if (slice !== undefined && !(type === 'Extension' && name === 'extension')) return null;
      steps.push({ name, slice });
    }
    return steps;
  }

  expand(vsUrl, seen = new Set()) {
    if (this.expansions.has(vsUrl)) return this.expansions.get(vsUrl);
    const codes = new Set();
    const vs = this.valueSets.get(vsUrl);
    if (vs && !seen.has(vsUrl)) {
      seen.add(vsUrl);
      for (const include of vs.compose?.include ?? []) {
        if (include.concept) {
          for (const c of include.concept) codes.add(`${include.system}|${c.code}`);
        } else if (include.system) {
          const cs = this.codeSystems.get(include.system);
          const walk = (concepts) => {
            for (const c of concepts ?? []) {
              codes.add(`${include.system}|${c.code}`);
              walk(c.concept);
            }
          };
          walk(cs?.concept);
        }
        for (const other of include.valueSet ?? []) {
          for (const code of this.expand(other, seen)) codes.add(code);
        }
      }
    }
    this.expansions.set(vsUrl, codes);
    return codes;
  }

  inValueSet(vsUrl, value) {
    const codes = this.expand(vsUrl);
    if (typeof value === 'string') {
      return [...codes].some((c) => c.endsWith(`|${value}`)); // a bare code: its system is the value set's
    }
    if (Array.isArray(value?.coding)) {
      return value.coding.length === 0 || value.coding.some((c) => codes.has(`${c.system}|${c.code}`));
    }
    if (value && typeof value === 'object' && 'code' in value) {
      return codes.has(`${value.system}|${value.code}`);
    }
    return true; // text only, or not a coded value
  }
}

// Medplum's snapshot parser knows one level of slicing: the slices of a complex extension that a
// profile unfolds (Practitioner.extension:involvement.extension:context, …) would be taken as
// more slices of the resource's own extensions, which no extension can match. The copy given to
// Medplum leaves those nested slices out (the unfolded slice keeps its fixed url, which is how
// Medplum matches it). Likewise an element inside a slice that repeats its parent by
// contentReference (Composition.section:identity.section): Medplum resolves it to the slice
// itself and would count it as one more slice. Medplum does not descend into such nested
// backbone elements anyway. The committed StructureDefinition is unchanged.
function forMedplum(sd) {
  if (sd.type === 'Extension') return sd;
  const nested = /:[^.]+\.(?:[^.]+\.)*extension:/;
  const copy = structuredClone(sd);
  copy.snapshot.element = copy.snapshot.element.filter(
    (e) => !nested.test(e.id ?? '') && !(e.contentReference && (e.id ?? '').includes(':')),
  );
  return copy;
}

function subsetted(resource) {
  return (resource.meta?.tag ?? []).some(
    (t) => t.system === 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue' && t.code === 'SUBSETTED',
  );
}

function codesOf(value) {
  if (typeof value === 'string') return value;
  if (Array.isArray(value?.coding)) return value.coding.map((c) => `${c.system}|${c.code}`);
  return `${value?.system}|${value?.code}`;
}

// The values at `steps` below `root`, with their paths: [{ value, at }].
function select(root, steps, where) {
  let current = [{ value: root, at: where }];
  for (const { name, slice } of steps) {
    const next = [];
    for (const { value, at } of current) {
      if (!value || typeof value !== 'object') continue;
      const keys = name.endsWith('[x]')
        ? Object.keys(value).filter((k) => k.startsWith(name.slice(0, -3)) && /^[A-Z]/.test(k.slice(name.length - 3)))
        : [name];
      for (const key of keys) {
        const child = value[key];
        if (child === undefined) continue;
        const items = Array.isArray(child) ? child.map((v, i) => [v, `${at}.${key}[${i}]`]) : [[child, `${at}.${key}`]];
        for (const [v, p] of items) {
          if (slice !== undefined && v?.url !== slice) continue;
          next.push({ value: v, at: p });
        }
      }
    }
    current = next;
  }
  return current;
}
