"""Hypothesis strategies of valid batches (within the default limits, no ``customerid``)."""

from __future__ import annotations

from typing import Any, get_args

from hypothesis import strategies as st

from fermion.schema import (
    IDENTITY_TYPES,
    ApplicationStateTransitionData,
    ApplicationStateTransitionEvent,
    ApplicationTransitionType,
    AttributionInfo,
    Batch,
    BatchContext,
    BreadcrumbData,
    CcpaConsent,
    CommerceEvent,
    CommerceEventData,
    ConsentRecord,
    ConsentState,
    CrashReportData,
    CrashReportEvent,
    CustomEvent,
    CustomEventData,
    CustomEventType,
    DataPlanContext,
    DeviceCurrentState,
    DeviceInfo,
    Environment,
    EventData,
    Location,
    LocationSource,
    NetworkPerformanceData,
    NetworkPerformanceEvent,
    Product,
    ProductAction,
    ProductActionType,
    ProductImpression,
    Promotion,
    PromotionAction,
    PromotionActionType,
    PushMessageData,
    PushMessageEvent,
    PushMessageType,
    ScreenViewData,
    ScreenViewEvent,
    SessionEndData,
    SessionEndEvent,
    SessionStartEvent,
    UserAttributeChangeData,
    UserAttributeChangeEvent,
    UserIdentities,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TIMESTAMPS = st.integers(min_value=0, max_value=4_102_444_800_000)
TEXT = st.text(max_size=20)
NAMES = st.text(max_size=40)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
SCALARS: st.SearchStrategy[Any] = st.one_of(st.none(), st.booleans(), INT64, FLOATS, TEXT)
ATTRIBUTES = st.dictionaries(NAMES, SCALARS, max_size=5)
USER_ATTRIBUTES = st.dictionaries(NAMES, st.one_of(SCALARS, st.lists(SCALARS, max_size=4)), max_size=6)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


LOCATIONS = st.builds(
    Location,
    latitude=optional(FLOATS),
    longitude=optional(FLOATS),
    city_name=optional(TEXT),
    dma_code=optional(st.integers(0, 999)),
    location_source=optional(st.sampled_from(get_args(LocationSource))),
)
DEVICE_STATES = st.builds(
    DeviceCurrentState,
    battery_level=optional(FLOATS),
    gps_state=optional(st.booleans() | TEXT),
    device_orientation=optional(TEXT | st.integers(0, 8)),
)


def common(**fields: Any) -> dict[str, Any]:
    """Strategies of the common event data fields, plus ``fields``."""
    return {
        "timestamp_unixtime_ms": optional(TIMESTAMPS),
        "source_message_id": optional(st.uuids().map(str)),
        "session_uuid": optional(st.uuids().map(str)),
        "custom_attributes": optional(ATTRIBUTES),
        "custom_flags": optional(st.dictionaries(NAMES, TEXT | st.lists(TEXT, max_size=3), max_size=3)),
        "location": optional(LOCATIONS),
        "device_current_state": optional(DEVICE_STATES),
        "lifetime_value_change": optional(st.booleans() | FLOATS),
        **fields,
    }


PRODUCTS = st.builds(
    Product,
    id=optional(TEXT),
    price=optional(FLOATS),
    quantity=optional(FLOATS),
    position=optional(st.integers(0, 100)),
    custom_attributes=optional(ATTRIBUTES),
)
COMMERCE_DATA = st.one_of(
    st.builds(
        CommerceEventData,
        **common(
            product_action=st.builds(
                ProductAction,
                action=st.sampled_from(get_args(ProductActionType)),
                total_amount=optional(FLOATS),
                products=optional(st.lists(PRODUCTS, max_size=3)),
            ),
            currency_code=optional(st.sampled_from(["USD", "EUR"])),
        ),
    ),
    st.builds(
        CommerceEventData,
        promotion_action=st.builds(
            PromotionAction,
            action=st.sampled_from(get_args(PromotionActionType)),
            promotions=optional(
                st.lists(st.builds(Promotion, id=optional(TEXT), position=optional(TEXT | INT64)))
            ),
        ),
    ),
    st.builds(
        CommerceEventData,
        product_impressions=st.lists(
            st.builds(
                ProductImpression,
                product_impression_list=optional(TEXT),
                products=optional(st.lists(PRODUCTS)),
            )
        ),
    ),
)

EVENTS = st.one_of(
    st.builds(
        CustomEvent,
        data=st.builds(
            CustomEventData,
            **common(event_name=NAMES, custom_event_type=st.sampled_from(get_args(CustomEventType))),
        ),
    ),
    st.builds(ScreenViewEvent, data=st.builds(ScreenViewData, **common(screen_name=optional(NAMES)))),
    st.builds(CommerceEvent, data=COMMERCE_DATA),
    st.builds(SessionStartEvent, data=st.builds(EventData, **common())),
    st.builds(
        SessionEndEvent, data=st.builds(SessionEndData, **common(session_duration_ms=optional(TIMESTAMPS)))
    ),
    st.builds(
        ApplicationStateTransitionEvent,
        data=st.builds(
            ApplicationStateTransitionData,
            application_transition_type=st.sampled_from(get_args(ApplicationTransitionType)),
            is_first_run=optional(st.booleans()),
        ),
    ),
    st.builds(
        CrashReportEvent,
        data=st.builds(
            CrashReportData,
            breadcrumbs=optional(st.lists(TEXT | st.builds(BreadcrumbData, label=TEXT), max_size=3)),
            severity=optional(TEXT),
        ),
    ),
    st.builds(
        PushMessageEvent,
        data=st.builds(
            PushMessageData,
            push_message_type=st.sampled_from(get_args(PushMessageType)),
            push_message_behavior=optional(st.integers(0, 31) | TEXT),
        ),
    ),
    st.builds(
        NetworkPerformanceEvent,
        data=st.builds(
            NetworkPerformanceData, url=optional(TEXT), response_code=optional(st.integers(100, 599) | TEXT)
        ),
    ),
    st.builds(
        UserAttributeChangeEvent,
        data=st.builds(
            UserAttributeChangeData,
            user_attribute_name=NAMES,
            new=SCALARS | st.lists(SCALARS, max_size=3),
            old=SCALARS | st.lists(SCALARS, max_size=3),
        ),
    ),
)

IDENTITIES = st.dictionaries(st.sampled_from(IDENTITY_TYPES), TEXT, max_size=5).map(
    lambda ids: UserIdentities(**ids)
)
CONSENT_RECORDS = st.builds(
    ConsentRecord,
    consented=st.booleans(),
    document=optional(TEXT),
    timestamp_unixtime_ms=optional(TIMESTAMPS),
)

BATCHES = st.builds(
    Batch,
    events=optional(st.lists(EVENTS, max_size=6)),
    environment=st.sampled_from(get_args(Environment)),
    mpid=optional(INT64),
    source_request_id=st.one_of(st.none(), TEXT, INT64, FLOATS, st.booleans()),
    user_identities=optional(IDENTITIES),
    user_attributes=optional(USER_ATTRIBUTES),
    deleted_user_attributes=optional(st.lists(NAMES, max_size=3)),
    partner_identities=optional(st.dictionaries(NAMES, TEXT, max_size=2)),
    integration_attributes=optional(st.dictionaries(st.integers(1, 999).map(str), ATTRIBUTES, max_size=2)),
    device_info=optional(
        st.builds(DeviceInfo, platform=optional(TEXT), screen_width=optional(st.integers(0, 8000)))
    ),
    context=optional(
        st.builds(
            BatchContext,
            data_plan=optional(
                st.builds(DataPlanContext, plan_id=TEXT, plan_version=optional(st.integers(1, 99)))
            ),
            location=optional(LOCATIONS),
        )
    ),
    consent_state=optional(
        st.builds(
            ConsentState,
            gdpr=optional(st.dictionaries(NAMES, CONSENT_RECORDS, max_size=2)),
            ccpa=optional(st.builds(CcpaConsent, data_sale_opt_out=optional(CONSENT_RECORDS))),
        )
    ),
    attribution_info=optional(
        st.builds(AttributionInfo, service_provider=TEXT, publisher=TEXT, campaign=TEXT)
    ),
)
