// Value sets of the bindings in the profiles and extensions.

RuleSet: AcpValueSet
* ^status = #active
* ^experimental = false

ValueSet: CprDecision
Id: cpr-decision
Title: "CPR decision"
Description: "For or not for attempted cardiopulmonary resuscitation; the older SNOMED CT synonyms (for / not for resuscitation) are accepted on input."
* insert AcpValueSet
* $sct#450475007 "For cardiopulmonary resuscitation"
* $sct#450476008 "Not for cardiopulmonary resuscitation"
* $sct#304252001 "For resuscitation"
* $sct#304253006 "Not for resuscitation"

ValueSet: CprConsentCategory
Id: cpr-consent-category
Title: "CPR-decision Consent category"
Description: "Consent.category of a CPR decision: the decision code, and consentcategorycodes dnr when not for CPR."
* insert AcpValueSet
* include codes from valueset CprDecision
* $consentcategory#dnr "Do Not Resuscitate"

ValueSet: AdrtConsentCategory
Id: adrt-consent-category
Title: "ADRT Consent category"
Description: "Consent.category of an advance decision to refuse treatment."
* insert AcpValueSet
* $consentcategory#acd "Advance Directive"
* $sct#816301000000100 "Has advance decision to refuse treatment (Mental Capacity Act 2005)"
* $sct#816321000000109 "Has advance decision to refuse life-sustaining treatment (Mental Capacity Act 2005)"

ValueSet: ConsentToShareStatus
Id: consent-to-share-status
Title: "Consent to share status"
Description: "Whether consent to share the end of life care coordination record was given, withdrawn, given in best interests (Mental Capacity Act) or given by a personal welfare LPA."
* insert AcpValueSet
* $sct#882921000000109 "Consent given for sharing end of life care coordination record"
* $sct#882941000000102 "Consent withdrawn for sharing end of life care coordination record"
* $sct#882961000000101 "End of life care coordination record shared in best interests (Mental Capacity Act 2005)"
* $sct#883001000000106 "Consent given for sharing end of life care coordination record by personal welfare lasting power of attorney"

ValueSet: ConsentToShareCategory
Id: consent-to-share-category
Title: "Consent to share category"
Description: "Consent.category of a consent to share: LOINC Patient consent and the consent status."
* insert AcpValueSet
* $loinc#59284-0 "Patient consent"
* include codes from valueset ConsentToShareStatus

ValueSet: CarePlanCategory
Id: careplan-category
Title: "End of life CarePlan category"
Description: "CarePlan.category of the end of life care plan."
* insert AcpValueSet
* $sct#736373009 "End of life care plan"
* $sct#736366004 "Advance care plan"

ValueSet: CarePlanActivity
Id: careplan-activity
Title: "End of life CarePlan activity"
Description: "Coded CarePlan activities: anticipatory medicines and the treatments of ReSPECT recommendations."
* insert AcpValueSet
* $sct#376201000000102 "Issue of palliative care anticipatory medication box"
* $sct#89666000 "Cardiopulmonary resuscitation"
* $sct#40617009 "Artificial respiration"
* $sct#305351004 "Admission to intensive care unit"
* $sct#32485007 "Hospital admission"
* $sct#281789004 "Antibiotic therapy"

ValueSet: CareTeamRole
Id: care-team-role
Title: "Care team role"
Description: "Roles in the contained CareTeam of the plan (a free-text role may follow in CodeableConcept.text)."
* insert AcpValueSet
* $local#key-worker
* $local#usual-gp
* $local#gp-practice

ValueSet: FocusOfCare
Id: focus-of-care
Title: "ReSPECT focus of care"
Description: "The focus of care recorded on a ReSPECT form."
* insert AcpValueSet
* $local#focus-life-sustaining-treatment
* $local#focus-selective-treatment
* $local#focus-comfort-care

ValueSet: Prognosis
Id: prognosis
Title: "Prognosis"
Description: "Expected prognosis: the local code always, with the SNOMED CT code where one exists."
* insert AcpValueSet
* $local#prognosis-last-days
* $local#prognosis-last-weeks
* $local#prognosis-last-months
* $local#prognosis-unknown
* $sct#511401000000102 "Last days of life"
* $sct#955231000000109 "Last weeks of life"

ValueSet: PreferenceCategory
Id: preference-category
Title: "Preference kind"
Description: "Goal.category of a preference Goal: preferred place of care or of death, advance statement, what matters most."
* insert AcpValueSet
* $sct#395091006 "Preferred place of death"
* $sct#816281000000101 "Has advance statement (Mental Capacity Act 2005)"
* $local#preferred-place-of-care
* $local#what-matters-most

ValueSet: DeathLocation
Id: death-location
Title: "Place of death (NHS Data Dictionary)"
Description: "All NHS Data Dictionary death-location codes: 10 hospital, 21 own home, 22 other private residence, 30 hospice, 40 care home, 50 other."
* insert AcpValueSet
* include codes from system $death-location

ValueSet: PreferredPlace
Id: preferred-place
Title: "Preferred place"
Description: "Goal.description of a preferred place of care or of death: the NHS Data Dictionary place kind (with the SNOMED CT place where one exists), or why there is no place (undecided, declined to discuss, discussion not appropriate, unable to express)."
* insert AcpValueSet
* include codes from system $death-location
* $sct#264362003 "Home"
* $sct#284546000 "Hospice"
* $sct#22232009 "Hospital"
* $sct#517161000000101 "Preferred place of death undecided"
* $sct#766391000000108 "Declined to discuss preferred place of death"
* $sct#517131000000106 "Discussion about preferred place of death not appropriate"
* $sct#517111000000103 "Unable to express preferred place of death"
* $local#place-of-care-undecided
* $local#place-of-care-declined-to-discuss
* $local#place-of-care-not-appropriate
* $local#place-of-care-unable-to-express

ValueSet: ContactRole
Id: contact-role
Title: "Contact role"
Description: "The parts a related person plays in the plan."
* insert AcpValueSet
* $local#main-carer
* $local#nominated-contact
* $local#involve-in-decisions

ValueSet: PractitionerInvolvement
Id: practitioner-involvement-context
Title: "Practitioner's part in a plan"
Description: "The part a practitioner plays in a plan (practitioner-involvement extension, context)."
* insert AcpValueSet
* $local#cpr-decision-maker
* $local#respect-clinician
* $local#consent-to-share-recorder
* $local#usual-gp
* $local#key-worker
* $local#care-team-professional

ValueSet: DecisionStatus
Id: decision-status
Title: "Recorded decision status"
Description: "The lifecycle of a recorded decision. CPR decisions: current, superseded, revoked, entered-in-error. ADRTs: active, withdrawn, entered-in-error."
* insert AcpValueSet
* $local#current
* $local#superseded
* $local#revoked
* $local#active
* $local#withdrawn
* $local#entered-in-error

ValueSet: LpaRelationship
Id: lpa-relationship
Title: "Lasting power of attorney relationship"
Description: "RelatedPerson.relationship of a personal welfare LPA (a free-text relationship may be given instead for other contacts)."
* insert AcpValueSet
* $v3-RoleCode#HPOWATT "healthcare power of attorney"
* $sct#816361000000101 "Has lasting power of attorney for personal welfare without authority for life sustaining treatment decisions"
* $sct#816381000000105 "Has lasting power of attorney for personal welfare with authority for life sustaining treatment decisions"

ValueSet: SummarySection
Id: summary-section
Title: "Emergency summary sections"
Description: "All sections of the emergency summary."
* insert AcpValueSet
* include codes from system $summary-section
