"""Reference data: legal entities, practices, people and customers (CRM accounts, ERP customers)."""

from __future__ import annotations

from datetime import timedelta

from collectors.demo_estate.model import Customer, LegalEntity, Person
from collectors.demo_estate.sim_base import World, biz_time, iban, sf_id

LEGAL_ENTITIES = (
    LegalEntity("US", "USD", "US", "Throughline Consulting Inc."),
    LegalEntity("UK", "GBP", "GB", "Throughline Consulting Ltd"),
    LegalEntity("DE", "EUR", "DE", "Throughline Consulting GmbH"),
)
PRACTICES = ("Strategy", "Data & AI", "Cloud", "ERP Advisory")
PRACTICE_CODES = {"Strategy": "STR", "Data & AI": "DAI", "Cloud": "CLD", "ERP Advisory": "ERP"}
INTEGRATION_USER = "svc-integration"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Anna Ben Clara David Emma Felix Grace Hugo Ines Jonas Kate Liam Mia Noah Olivia Paul "
    "Quinn Rosa Sam Tara Uwe Vera Will Xenia Yusuf Zoe Adam Bea Carl Dana Eli Fay Gil Hana "
    "Ivan Jill Karl Lena Max Nina Omar Pia Ravi Sara Tom Ulla Vic Wen"
)
_LAST = _words(
    "Smith Becker Jones Müller Patel Schmidt Brown Wagner Taylor Fischer Evans Weber Walker "
    "Meyer Wright Hoffmann Hughes Koch Green Richter Hall Klein Wood Wolf Clarke Neumann King "
    "Schulz Baker Braun Lee Krüger Scott Hartmann Young Lange Moore Werner Khan Krause"
)
_WORDS = _words(
    "Acme Northwind Contoso Fabrikam Globex Initech Umbrella Vandelay Stark Wayne Tyrell "
    "Cyberdyne Oceanic Soylent Hooli Pied Aperture Monarch Gringotts Nakatomi Wonka Duff "
    "Sterling Cobalt Meridian Summit Harbor Pinnacle Atlas Beacon Crescent Evergreen Falcon "
    "Granite Horizon Ironwood Juniper Keystone Lakeside Mosaic Nimbus Orion Polaris Quarry "
    "Redwood Sapphire Trident Unity Vertex Willow Zenith Alder Birch Cedar"
)
_INDUSTRY = _words(
    "Logistics Retail Energy Health Foods Media Insurance Bank Pharma Motors Telecom Systems "
    "Textiles Chemicals Airlines Foundry Partners Analytics Labs Holdings"
)
_SUFFIX = {"US": ("Inc.", "LLC", "Corp."), "GB": ("Ltd", "plc", "Group Ltd"), "DE": ("GmbH", "AG")}

N_CUSTOMERS = 220
N_SALES, N_PMS, N_CONSULTANTS = 15, 10, 40


def make_people(world: World) -> tuple[Person, ...]:
    """Sales owners (CRM users), project managers and consultants; writes CRM ``User`` records."""
    rng = world.rng
    names = [f"{f} {last}" for f in _FIRST for last in _LAST]
    rng.shuffle(names)
    people: list[Person] = []
    entities = [e.code for e in LEGAL_ENTITIES]
    plan = (("sales", N_SALES), ("pm", N_PMS), ("consultant", N_CONSULTANTS))
    n = 0
    for role, count in plan:
        for i in range(count):
            name = names[n]
            n += 1
            first, last = name.split(" ", 1)
            username = f"{first[0].lower()}.{last.lower()}".replace("ü", "ue")
            pid = sf_id("005", n) if role == "sales" else username
            people.append(
                Person(pid, name, username, role, entities[i % 3], rate_tier=i % 3 + (i % 5 == 0))
            )
    joined = world.start - timedelta(days=500)
    for p in people:
        if p.role == "sales":
            world.new(
                "User",
                p.id,
                joined,
                Id=p.id,
                Name=p.name,
                Username=f"{p.username}@throughline.example",
                IsActive=True,
                CreatedDate=joined,
            )
    return tuple(people)


def make_customers(world: World) -> tuple[Customer, ...]:
    """Customers with CRM ``Account`` and ERP ``customer`` records (a few lack a tax id)."""
    rng = world.rng
    entity_of = {e.code: e for e in LEGAL_ENTITIES}
    span = (world.horizon_end - world.start).days - 45
    used: set[str] = set()
    customers: list[Customer] = []
    missing_tax = set(rng.sample(range(N_CUSTOMERS), 8))
    duplicates = {i: rng.randrange(0, i) for i in rng.sample(range(40, N_CUSTOMERS), 3)}
    for i in range(N_CUSTOMERS):
        le = rng.choices(("US", "UK", "DE"), weights=(45, 30, 25))[0]
        country = entity_of[le].country
        if i in duplicates:
            name = customers[duplicates[i]].name
        else:
            while True:
                stem = f"{rng.choice(_WORDS)} {rng.choice(_INDUSTRY)}"
                if stem not in used:
                    break
            used.add(stem)
            name = f"{stem} {rng.choice(_SUFFIX[country])}"
        if rng.random() < 0.85:
            created = world.start - timedelta(
                days=rng.randint(30, 700), seconds=rng.randrange(86400)
            )
        else:
            created = biz_time(rng, (world.start + timedelta(days=rng.randrange(span))).date())
        number = f"C-{i + 1:04d}"
        tax: str | None = None
        if i not in missing_tax:
            digits = "".join(str(rng.randrange(10)) for _ in range(9))
            tax = f"{digits[:2]}-{digits[2:]}" if country == "US" else f"{country}{digits}"
        slug = name.split()[0].lower() + name.split()[1].lower()
        customers.append(
            Customer(
                number=number,
                name=name,
                legal_entity=le,
                country=country,
                tax_id=tax,
                email=f"ap@{slug}.example",
                iban=iban(rng, country),
                crm_id=sf_id("001", i + 1),
                erp_id=str(world.next_number("erp-customer", 1201, 3)),
                created_at=created,
            )
        )
    for c in customers:
        _write_customer(world, c)
    return tuple(customers)


def _write_customer(world: World, c: Customer) -> None:
    rng = world.rng
    account = world.new(
        "Account",
        c.crm_id,
        c.created_at,
        Id=c.crm_id,
        Name=c.name,
        BillingCountry=c.country,
        Legal_Entity__c=c.legal_entity,
        Customer_Number__c=c.number,
        Industry=c.name.split()[1],
        CreatedDate=c.created_at,
    )
    erp_created = c.created_at + timedelta(hours=rng.randint(2, 30))
    currency = next(e.currency for e in LEGAL_ENTITIES if e.code == c.legal_entity)
    customer = world.new(
        "customer",
        c.erp_id,
        erp_created,
        id=c.erp_id,
        entityid=c.number,
        companyname=c.name,
        subsidiary=c.legal_entity,
        currency=currency,
        custentity_tax_id=c.tax_id,
        email=c.email,
        custentity_iban=c.iban,
        datecreated=erp_created,
    )
    span = (world.horizon_end - max(world.start, c.created_at)).days
    if span > 10 and rng.random() < 0.3:
        t = biz_time(
            rng, (max(world.start, c.created_at) + timedelta(days=rng.randrange(span))).date()
        )
        account.update(max(t, account.created + timedelta(hours=1)), Industry=rng.choice(_INDUSTRY))
    if span > 10 and rng.random() < 0.2:
        t = biz_time(
            rng, (max(world.start, erp_created) + timedelta(days=rng.randrange(span))).date()
        )
        t = max(t, customer.created + timedelta(hours=1))
        customer.update(t, email=f"invoices@{c.email.split('@')[1]}")
