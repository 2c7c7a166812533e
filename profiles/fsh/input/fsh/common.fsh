// Rules every acp-fhir profile shares: what the projection always writes on a resource
// (meta.versionId, meta.lastUpdated, a generated narrative) and what it never writes.

RuleSet: AcpProfile
* ^status = #active
* ^experimental = false
* meta 1..1
* meta.versionId 1..1
* meta.lastUpdated 1..1
* meta.profile 1..*
* implicitRules 0..0
* language 0..0
* text 1..1
* text.status = #generated
* modifierExtension 0..0

// Closed slicing of a resource's extensions: only the extensions the profile names.
RuleSet: ClosedExtensions
* extension ^slicing.discriminator.type = #value
* extension ^slicing.discriminator.path = "url"
* extension ^slicing.rules = #closed

// Pattern slicing of a repeating CodeableConcept element (category and the like).
RuleSet: PatternSlicing(element, rules)
* {element} ^slicing.discriminator.type = #pattern
* {element} ^slicing.discriminator.path = "$this"
* {element} ^slicing.rules = #{rules}

// A Reference the projection writes: a literal reference and a display, nothing else.
RuleSet: PlainReference(element)
* {element}.reference 1..1
* {element}.display 1..1
* {element}.identifier 0..0
* {element}.type 0..0
