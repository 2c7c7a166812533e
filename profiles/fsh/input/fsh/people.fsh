// The person, the people around them, and the GP practice.

Profile: AcpPatient
Parent: Patient
Id: acp-patient
Title: "Person with an end of life care plan"
Description: "The person: NHS number (UK Core style identifier, system https://fhir.nhs.uk/Id/nhs-number, 10 digits with a valid Modulus 11 check digit) as the only identifier, names, birth date, gender, address, phones, preferred language, interpreter needed, usual GP."
* insert AcpProfile
* contained 0..0
* insert ClosedExtensions
* extension contains InterpreterRequiredExtension named interpreterRequired 0..1
* extension[interpreterRequired].url 1..1
* identifier 1..1
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #closed
* identifier contains nhsNumber 1..1
* identifier[nhsNumber].system 1..1
* identifier[nhsNumber].system = $nhs-number
* identifier[nhsNumber].value 1..1
* identifier[nhsNumber].use 0..0
* identifier[nhsNumber].type 0..0
* identifier[nhsNumber].period 0..0
* identifier[nhsNumber].assigner 0..0
* active 1..1
* name 1..2
* name.use 1..1
* name.text 1..1
* name.prefix 0..0
* name.suffix 0..0
* name.period 0..0
* telecom.system 1..1
* telecom.system = #phone
* telecom.value 1..1
* telecom.rank 0..0
* telecom.period 0..0
* gender 1..1
* birthDate 1..1
* deceased[x] only dateTime
* address 0..1
* maritalStatus 0..0
* multipleBirth[x] 0..0
* photo 0..0
* contact 0..0
* communication 0..1
* communication.language.coding 1..1
* communication.language.coding.system 1..1
* communication.language.coding.system = $bcp47
* generalPractitioner 1..2
* generalPractitioner only Reference(AcpPractitioner or AcpOrganization)
* insert PlainReference(generalPractitioner)
* managingOrganization 0..0
* link 0..0
* obeys acp-nhs-1

Invariant: acp-nhs-1
Description: "The NHS number is 10 digits and its last digit is the Modulus 11 check digit of the first nine (weights 10 to 2; 11 - remainder, 11 becomes 0, 10 is never valid)."
Severity: #error
Expression: "identifier.where(system = 'https://fhir.nhs.uk/Id/nhs-number').all(value.matches('^[0-9]{10}$') and ((11 - ((value.substring(0, 1).toInteger() * 10 + value.substring(1, 1).toInteger() * 9 + value.substring(2, 1).toInteger() * 8 + value.substring(3, 1).toInteger() * 7 + value.substring(4, 1).toInteger() * 6 + value.substring(5, 1).toInteger() * 5 + value.substring(6, 1).toInteger() * 4 + value.substring(7, 1).toInteger() * 3 + value.substring(8, 1).toInteger() * 2) mod 11)) mod 11) = value.substring(9, 1).toInteger())"

Profile: AcpRelatedPerson
Parent: RelatedPerson
Id: acp-relatedperson
Title: "Contact or lasting power of attorney"
Description: "A person around the patient: main carer, single nominated contact, someone to involve in decisions, or a personal welfare LPA (relationship v3-RoleCode HPOWATT with the SNOMED CT LPA code, authority over life-sustaining treatment and where the registered document is)."
* insert AcpProfile
* contained 0..0
* insert ClosedExtensions
* extension contains
    ContactRoleExtension named contactRole 0..3 and
    AwareOfPrognosisExtension named awareOfPrognosis 0..1 and
    LpaLifeSustainingAuthorityExtension named lpaLifeSustainingAuthority 0..1 and
    DocumentLocationExtension named documentLocation 0..1
* extension[contactRole].url 1..1
* extension[awareOfPrognosis].url 1..1
* extension[lpaLifeSustainingAuthority].url 1..1
* extension[documentLocation].url 1..1
* identifier 0..0
* active 1..1
* patient only Reference(AcpPatient)
* insert PlainReference(patient)
* relationship 1..2
* relationship from LpaRelationship (required)
* name 1..1
* name.text 1..1
* name.use 0..0
* name.family 0..0
* name.given 0..0
* name.prefix 0..0
* name.suffix 0..0
* name.period 0..0
* telecom.system 1..1
* telecom.system = #phone
* telecom.value 1..1
* telecom.rank 0..0
* telecom.period 0..0
* gender 0..0
* birthDate 0..0
* address 0..0
* photo 0..0
* period 0..0
* communication 0..0
* obeys acp-rp-1

Invariant: acp-rp-1
Description: "A personal welfare LPA (relationship HPOWATT) says whether it has authority over life-sustaining treatment; nobody else does."
Severity: #error
Expression: "relationship.coding.where(system = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode' and code = 'HPOWATT').exists() = extension.where(url = 'https://acp-fhir.example.org/fhir/StructureDefinition/lpa-life-sustaining-authority').exists()"

Profile: AcpPractitioner
Parent: Practitioner
Id: acp-practitioner
Title: "Clinician in a plan"
Description: "A clinician named in a plan (usual GP, key worker, decision maker, ReSPECT clinician, other professionals), as recorded: name text, professional registration number, phone, and each part they play (practitioner-involvement)."
* insert AcpProfile
* contained 0..0
* insert ClosedExtensions
* extension contains PractitionerInvolvementExtension named involvement 1..*
* extension[involvement].url 1..1
* identifier 0..1
* identifier.system 1..1
* identifier.system = $registration
* identifier.value 1..1
* identifier.use 0..0
* identifier.type 0..0
* identifier.period 0..0
* identifier.assigner 0..0
* active 0..0
* name 1..1
* name.text 1..1
* name.use 0..0
* name.family 0..0
* name.given 0..0
* name.prefix 0..0
* name.suffix 0..0
* name.period 0..0
* telecom 0..1
* telecom.system 1..1
* telecom.system = #phone
* telecom.value 1..1
* telecom.rank 0..0
* telecom.period 0..0
* address 0..0
* gender 0..0
* birthDate 0..0
* photo 0..0
* qualification 0..0
* communication 0..0

Profile: AcpOrganization
Parent: Organization
Id: acp-organization
Title: "GP practice"
Description: "The person's registered GP practice: name, ODS code, phone."
* insert AcpProfile
* contained 0..0
* extension 0..0
* identifier 0..1
* identifier.system 1..1
* identifier.system = $ods
* identifier.value 1..1
* identifier.use 0..0
* identifier.type 0..0
* identifier.period 0..0
* identifier.assigner 0..0
* active 0..0
* insert PatternSlicing(type, closed)
* type 1..1
* type contains provider 1..1
* type[provider] = $organization-type#prov
* name 1..1
* alias 0..0
* telecom 0..1
* telecom.system 1..1
* telecom.system = #phone
* telecom.value 1..1
* telecom.rank 0..0
* telecom.period 0..0
* address 0..0
* partOf 0..0
* contact 0..0
* endpoint 0..0
