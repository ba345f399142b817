namespace AnomalyActors.Core.Protocol;

/// <summary>One observation of a stream; the timestamp is the device's (Unix milliseconds).</summary>
public readonly record struct Reading(string StreamKey, long TimestampMs, double Value);
