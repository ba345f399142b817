namespace AnomalyActors.Core.DeadLetters;

/// <summary>Why a message was not turned into readings. The names appear in dead-letter records and counters.</summary>
public enum DeadLetterReason
{
    /// <summary>No configured format matches the message's topic.</summary>
    UnknownFormat,

    /// <summary>The payload is larger than the configured maximum.</summary>
    PayloadTooLarge,

    /// <summary>A JSON format's payload is not a well-formed JSON object.</summary>
    InvalidJson,

    /// <summary>A text payload is not valid UTF-8.</summary>
    InvalidText,

    /// <summary>A configured field (metric, key or timestamp) is absent.</summary>
    MissingField,

    /// <summary>A metric field holds something that does not convert to a number.</summary>
    NotNumeric,

    /// <summary>A metric converts to NaN or an infinity.</summary>
    NotFinite,

    /// <summary>The site, device or metric name is empty or contains '/'.</summary>
    InvalidKey,

    /// <summary>The timestamp field does not parse.</summary>
    InvalidTimestamp,

    /// <summary>
    /// Kafka: readings of a stream arrived on another partition of the readings topic than the one
    /// its state counts offsets in (a producer keyed it differently); they are not applied.
    /// </summary>
    WrongPartition,

    /// <summary>
    /// A device account's message names another device (in a payload field): a device may speak only
    /// for itself; service accounts and bridges are trusted.
    /// </summary>
    ForeignDevice,

    /// <summary>The topic (or Kafka key) or a stream key is longer than the configured maximum.</summary>
    NameTooLong,
}
