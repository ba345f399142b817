using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Models;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;
using Xunit;

namespace AnomalyActors.Core.Tests;

public sealed class SensorStateSpecs
{
    private const string Sensor = "site-1/dev-A/temp";
    private const int Partition = 3;

    private static readonly ThresholdOptions Limits = new(min: 0, max: 10);

    private static readonly EwmaBandOptions Ewma = new(
        alpha: 0.3, warmupAlpha: 0.9, warmupReadings: 3, window: 4, gamma: 0.3, k: 2.0, alarmAfter: 4);

    [Fact]
    public void Should_apply_a_first_slice_and_take_its_partition()
    {
        // Arrange
        var state = NewState(Limits);
        var events = new List<IEpisodeEvent>();

        // Act
        var applied = state.Process(Slice(10, 1.0, 2.0, 3.0), events);

        // Assert
        Assert.Equal(3, applied.Applied);
        Assert.Equal(SliceVerdict.Applied, applied.Verdict);
        Assert.Equal(Partition, state.PartitionId);
        Assert.Equal(12, state.Offset);
        Assert.Equal(3, state.ReadingsScored);
        Assert.Equal(3, state.ReadingsSinceSnapshot);
        Assert.Empty(events);
    }

    [Fact]
    public void Should_see_a_gap_when_the_previous_reading_of_the_slice_was_never_applied()
    {
        // Arrange
        var state = NewState(Ewma);
        state.Process(Slice(10, 1.0, 2.0, 3.0), []);

        // Act
        var contiguous = state.HasGapBefore(Slice(20, 4.0) with { PreviousOffset = 12 });
        var unknownPrevious = state.HasGapBefore(Slice(30, 4.0) with { PreviousOffset = -1 });
        var missed = state.HasGapBefore(Slice(30, 4.0) with { PreviousOffset = 20 });

        // Assert
        Assert.False(contiguous);
        Assert.False(unknownPrevious);
        Assert.True(missed);
    }

    [Fact]
    public void Should_skip_a_redelivered_slice_entirely_and_return_zero()
    {
        // Arrange
        var state = NewState(Ewma);
        var events = new List<IEpisodeEvent>();
        state.Process(Slice(10, 1.0, 2.0, 3.0, 2.5, 1.5, 40.0), events);
        var before = state.Capture();
        var sinceSnapshot = state.ReadingsSinceSnapshot;
        events.Clear();

        // Act
        var whole = state.Process(Slice(10, 1.0, 2.0, 3.0, 2.5, 1.5, 40.0), events);
        var earlier = state.Process(Slice(2, 7.0, 8.0), events);
        var upToOffset = state.Process(Slice(14, 1.5, 40.0), events);

        // Assert
        Assert.Equal(new SliceOutcome(SliceVerdict.AlreadyApplied, 0), whole);
        Assert.Equal(new SliceOutcome(SliceVerdict.AlreadyApplied, 0), earlier);
        Assert.Equal(new SliceOutcome(SliceVerdict.AlreadyApplied, 0), upToOffset);
        Assert.Empty(events);
        ContentAssert.Equal(before, state.Capture());
        Assert.Equal(sinceSnapshot, state.ReadingsSinceSnapshot);
    }

    [Fact]
    public void Should_apply_only_the_part_of_a_slice_above_the_offset()
    {
        // Arrange
        var reference = NewState(Ewma);
        reference.Process(Slice(10, 1.0, 2.0, 3.0, 4.0, 5.0), []);
        var state = NewState(Ewma);
        state.Process(Slice(10, 1.0, 2.0, 3.0), []);

        // Act
        var applied = state.Process(Slice(11, 2.0, 3.0, 4.0, 5.0), []);

        // Assert
        Assert.Equal(2, applied.Applied);
        Assert.Equal(14, state.Offset);
        ContentAssert.Equal(reference.Capture(), state.Capture());
    }

    [Fact]
    public void Should_open_an_episode_on_the_first_out_of_band_reading_and_close_it_after_the_in_band_run()
    {
        // Arrange: limits [0, 10] (scale 10), close after 2 consecutive in-band readings
        var state = NewState(Limits, closeAfterInBand: 2);
        var events = new List<IEpisodeEvent>();

        // Act: offsets 100..107
        state.Process(Slice(100, 5, 11, 12, 5, 13, 5), events);
        state.Process(Slice(106, 5, 5), events);

        // Assert
        Assert.Equal(2, events.Count);
        ContentAssert.Equal(new EpisodeOpened(Sensor, 1, 101, Ts(101), 11.0, 0.1 / 1.1), events[0]);
        // Out of band: 11, 12, 13; the peak is 13 (3 above over scale 10: d = 0.3).
        ContentAssert.Equal(new EpisodeClosed(Sensor, 1, 106, Ts(106), 3, 0.3 / 1.3), events[1]);
        Assert.False(state.Episodes.IsOpen);
    }

    [Fact]
    public void Should_give_stable_alert_ids_per_sensor_and_episode()
    {
        // Arrange
        var state = NewState(Limits, closeAfterInBand: 1);
        var events = new List<IEpisodeEvent>();

        // Act
        state.Process(Slice(0, 20, 5, -3, 5), events);

        // Assert
        Assert.Equal(
            [$"{Sensor}#1", $"{Sensor}#1", $"{Sensor}#2", $"{Sensor}#2"],
            events.Select(e => e.AlertId));
        Assert.Equal([0L, 1, 2, 3], events.Select(e => e.Offset));
    }

    [Fact]
    public void Should_count_non_finite_values_as_rejected_and_skip_them()
    {
        // Arrange
        var state = NewState(Limits, closeAfterInBand: 2);
        var finiteOnly = NewDetectors(Limits);
        finiteOnly.Update(0, 11);
        finiteOnly.Update(0, 5);
        finiteOnly.Update(0, 5);
        var events = new List<IEpisodeEvent>();

        // Act: 11 opens; NaN/inf between the two in-band readings neither score nor break the run
        var applied = state.Process(Slice(50, 11, double.NaN, 5, double.PositiveInfinity, double.NegativeInfinity, 5), events);

        // Assert
        Assert.Equal(6, applied.Applied);
        Assert.Equal(55, state.Offset);
        Assert.Equal(3, state.ReadingsScored);
        Assert.Equal(3, state.ReadingsRejected);
        Assert.Equal(6, state.ReadingsSinceSnapshot);
        Assert.Equal(finiteOnly.CaptureState(), state.CaptureDetectorState());
        Assert.Equal([50L, 55], events.Select(e => e.Offset));
        Assert.Equal(1, Assert.IsType<EpisodeClosed>(events[1]).OutOfBandReadings);
    }

    [Fact]
    public void Should_refuse_a_reading_from_a_different_partition_and_change_nothing()
    {
        // Arrange
        var state = NewState(Limits);
        state.Process(Slice(0, 1.0), []);
        var before = state.Capture();

        // Act
        var outcome = state.Process(Slice(1, 2.0) with { PartitionId = Partition + 1 }, []);

        // Assert
        Assert.Equal(new SliceOutcome(SliceVerdict.ForeignPartition, 0), outcome);
        ContentAssert.Equal(before, state.Capture());
    }

    [Fact]
    public void Should_refuse_a_reading_from_a_different_partition_after_restoring_a_snapshot()
    {
        // Arrange
        var original = NewState(Limits);
        original.Process(Slice(0, 1.0), []);
        var restored = NewState(Limits);
        restored.Restore(original.Capture());

        // Act
        var outcome = restored.Process(Slice(1, 2.0) with { PartitionId = Partition + 1 }, []);

        // Assert
        Assert.Equal(SliceVerdict.ForeignPartition, outcome.Verdict);
    }

    [Fact]
    public void Should_hold_a_slice_after_a_gap_unapplied_until_the_loss_is_accepted()
    {
        // Arrange: offsets 10-12 applied; the partition then sent 13-19 (lost) and now 20-21
        var state = NewState(Ewma);
        state.Process(Slice(10, 1.0, 2.0, 3.0), []);
        var before = state.Capture();
        var afterGap = Slice(20, 4.0, 5.0) with { PreviousOffset = 19 };

        // Act: the partition still has offset 13 only
        var held = state.Process(afterGap, []);
        var request = state.RequestRedelivery(afterGap);
        var replayed = state.Process(Slice(13, 3.5) with { PreviousOffset = 12, Replay = true }, []);
        var lost = state.RedeliveryCompleted();
        var applied = state.Process(afterGap, []);

        // Assert: nothing applied while the gap was open; a re-delivery is never a gap itself
        Assert.Equal(new SliceOutcome(SliceVerdict.Gap, 0), held);
        Assert.Equal(new RedeliverReadings(Partition, Sensor, 13), request);
        Assert.Equal(new SliceOutcome(SliceVerdict.Applied, 1), replayed);
        Assert.Equal((13L, 19L), lost);
        Assert.Equal(new SliceOutcome(SliceVerdict.Applied, 2), applied);
        Assert.Equal(21, state.Offset);
        Assert.Null(state.Missing);
        Assert.NotEqual(before.Offset, state.Offset);
    }

    [Fact]
    public void Should_find_the_gap_a_delivery_check_reveals_when_no_later_slice_comes()
    {
        // Arrange: offsets 10-12 applied; the partition also sent 13-14, which never arrived
        var state = NewState(Ewma);
        state.Process(Slice(10, 1.0, 2.0, 3.0), []);

        // Act
        var upToDate = state.Check(new CheckDelivery(Sensor, Partition, 12));
        var behind = state.Check(new CheckDelivery(Sensor, Partition, 14));
        var request = state.RedeliveryRequest();
        state.Process(Slice(13, 3.5, 3.7) with { PreviousOffset = 12, Replay = true }, []);
        var lost = state.RedeliveryCompleted();

        // Assert
        Assert.Equal(DeliveryCheck.Applied, upToDate);
        Assert.Equal(DeliveryCheck.Gap, behind);
        Assert.Equal(new RedeliverReadings(Partition, Sensor, 13), request);
        Assert.Null(lost);
        Assert.Equal(14, state.AppliedThrough);
        Assert.Equal(DeliveryCheck.Applied, state.Check(new CheckDelivery(Sensor, Partition, 14)));
    }

    [Fact]
    public void Should_confirm_readings_known_lost_and_ignore_checks_of_another_partition()
    {
        // Arrange: 13-19 lost for good (the log no longer had them)
        var state = NewState(Ewma);
        state.Process(Slice(10, 1.0, 2.0, 3.0), []);
        state.RequestRedelivery(Slice(20, 4.0) with { PreviousOffset = 19 });
        state.RedeliveryCompleted();

        // Act
        var lostOnes = state.Check(new CheckDelivery(Sensor, Partition, 19));
        var foreign = state.Check(new CheckDelivery(Sensor, Partition + 1, 1_000));

        // Assert
        Assert.Equal(DeliveryCheck.Applied, lostOnes);
        Assert.Equal(19, state.AppliedThrough);
        Assert.Equal(DeliveryCheck.ForeignPartition, foreign);
        Assert.Null(state.Missing);
    }

    [Fact]
    public void Should_ask_for_everything_from_the_start_when_a_new_stream_lost_its_first_slice()
    {
        var state = NewState(Ewma);

        var verdict = state.Check(new CheckDelivery(Sensor, Partition, 7));

        Assert.Equal(DeliveryCheck.Gap, verdict);
        Assert.Equal(new RedeliverReadings(Partition, Sensor, 0), state.RedeliveryRequest());
    }

    [Fact]
    public void Should_lose_nothing_when_the_redelivery_covers_the_gap()
    {
        // Arrange
        var state = NewState(Ewma);
        state.Process(Slice(10, 1.0, 2.0, 3.0), []);
        var afterGap = Slice(15, 4.0) with { PreviousOffset = 14 };
        state.Process(afterGap, []);
        state.RequestRedelivery(afterGap);

        // Act
        state.Process(Slice(13, 3.5, 3.7) with { PreviousOffset = 12, Replay = true }, []);
        var lost = state.RedeliveryCompleted();
        var applied = state.Process(afterGap, []);

        // Assert
        Assert.Null(lost);
        Assert.Equal(new SliceOutcome(SliceVerdict.Applied, 1), applied);
    }

    [Fact]
    public void Should_count_readings_since_the_last_snapshot()
    {
        // Arrange
        var state = NewState(Limits);
        state.Process(Slice(0, 1, 2, double.NaN), []);

        // Act
        var dueAtThree = state.ShouldSnapshot(3);
        var dueAtFour = state.ShouldSnapshot(4);
        state.SnapshotTaken();

        // Assert
        Assert.True(dueAtThree);
        Assert.False(dueAtFour);
        Assert.Equal(0, state.ReadingsSinceSnapshot);
        Assert.False(state.ShouldSnapshot(1));
    }

    [Fact]
    public void Should_record_the_highest_journaled_offset()
    {
        // Arrange
        var state = NewState(Limits);

        // Act
        state.Apply(new EpisodeOpened(Sensor, 1, 40, 0, 11, 0.1));
        state.Apply(new EpisodeClosed(Sensor, 1, 45, 0, 1, 0.1));
        state.Apply(new EpisodeOpened(Sensor, 1, 40, 0, 11, 0.1));

        // Assert
        Assert.Equal(45, state.RecordedThrough);
    }

    public static TheoryData<int, int> CrashPoints => new()
    {
        // (slices covered by the snapshot, episode events journaled after it before the crash)
        { 0, 0 },
        { 4, 0 },
        { 4, 1 },
        { 4, 3 },
        { 9, 2 },
        { 10, 0 },
        { 11, 0 }, // snapshot mid-episode
        { 11, 1 },
        { 12, 1 },
        { 9, int.MaxValue },
        { 15, int.MaxValue },
    };

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public void Should_not_emit_recorded_events_again_and_end_in_the_uninterrupted_state_after_recovery(int snapshotAfterSlices, int journaledAfterSnapshot)
    {
        // Arrange: the uninterrupted run
        var slices = Workload();
        var uninterrupted = NewState(Ewma, Limits);
        var expectedEvents = new List<IEpisodeEvent>();
        foreach (var slice in slices)
        {
            uninterrupted.Process(slice, expectedEvents);
        }

        Assert.True(expectedEvents.Count >= 6, $"the workload should produce several episodes, got {expectedEvents.Count} events");

        // Arrange: a run that snapshots, journals some events, and crashes
        var crashed = NewState(Ewma, Limits);
        var beforeSnapshot = new List<IEpisodeEvent>();
        foreach (var slice in slices.Take(snapshotAfterSlices))
        {
            crashed.Process(slice, beforeSnapshot);
        }

        var snapshot = crashed.Capture();
        var afterSnapshot = new List<IEpisodeEvent>();
        foreach (var slice in slices.Skip(snapshotAfterSlices))
        {
            crashed.Process(slice, afterSnapshot);
        }

        var journaled = afterSnapshot.Take(journaledAfterSnapshot).ToList();
        if (journaledAfterSnapshot > 0)
        {
            Assert.NotEmpty(journaled);
        }

        // Act: recovery as the actor does it, then the partition re-delivers every retained slice
        var recovered = NewState(Ewma, Limits);
        var restored = recovered.Restore(snapshot);
        foreach (var recorded in journaled)
        {
            recovered.Apply(recorded);
        }

        var emitted = new List<IEpisodeEvent>();
        foreach (var slice in slices)
        {
            recovered.Process(slice, emitted);
        }

        // Assert
        Assert.True(restored);
        Assert.All(emitted, e => Assert.True(e.Offset > recovered.RecordedThrough, $"{e} re-emitted at or below {recovered.RecordedThrough}"));
        Assert.All(emitted, e => Assert.True(e.Offset > snapshot.Offset, $"{e} re-emitted at or below the snapshot offset {snapshot.Offset}"));
        ContentAssert.Equal(expectedEvents.ToArray(), beforeSnapshot.Concat(journaled).Concat(emitted).ToArray());
        ContentAssert.Equal(uninterrupted.Capture(), recovered.Capture());
        Assert.Equal(uninterrupted.CaptureDetectorState(), recovered.CaptureDetectorState());
    }

    [Fact]
    public void Should_keep_offsets_and_episodes_but_reset_detectors_under_a_different_fingerprint()
    {
        // Arrange: a snapshot taken mid-episode under one configuration
        var original = NewState(Ewma);
        var events = new List<IEpisodeEvent>();
        var workload = Workload();
        foreach (var slice in workload.Take(11))
        {
            original.Process(slice, events);
        }

        var snapshot = original.Capture();
        Assert.True(snapshot.Episodes.IsOpen);
        // Same kind, another window: the snapshot's detector state would not even fit these detectors.
        var other = new EwmaBandOptions(alpha: 0.3, warmupAlpha: 0.9, warmupReadings: 3, window: 9, gamma: 0.3, k: 2.0, alarmAfter: 4);
        var state = new SensorState(Sensor, NewDetectors(other), closeAfterInBand: 3);

        // Act
        var restored = state.Restore(snapshot);
        var redelivered = workload.Take(11).Sum(slice => state.Process(slice, []).Applied);

        // Assert
        Assert.False(restored);
        Assert.NotEqual(snapshot.DetectorFingerprint, NewDetectors(other).Fingerprint);
        Assert.Equal(snapshot.PartitionId, state.PartitionId);
        Assert.Equal(snapshot.Offset, state.Offset);
        Assert.Equal(snapshot.ReadingsScored, state.ReadingsScored);
        Assert.Equal(snapshot.ReadingsRejected, state.ReadingsRejected);
        Assert.Equal(snapshot.Episodes, state.Episodes.Capture());
        Assert.Equal(NewDetectors(other).CaptureState(), state.CaptureDetectorState());
        Assert.Equal(0, redelivered);
    }

    [Fact]
    public void Should_restore_detectors_under_the_same_fingerprint()
    {
        // Arrange
        var original = NewState(Ewma);
        foreach (var slice in Workload().Take(6))
        {
            original.Process(slice, []);
        }

        var snapshot = original.Capture();
        var state = NewState(Ewma);

        // Act
        var restored = state.Restore(snapshot);

        // Assert
        Assert.True(restored);
        ContentAssert.Equal(snapshot, state.Capture());
        Assert.Equal(0, state.ReadingsSinceSnapshot);
    }

    [Fact]
    public void Should_apply_explicit_offsets_and_skip_exactly_those_already_applied()
    {
        // Arrange: readings of an external log, interleaved with other streams (offsets not contiguous)
        var state = NewState(Limits);
        long[] first = [ExternalOffsets.Compose(10, 0), ExternalOffsets.Compose(12, 0), ExternalOffsets.Compose(12, 1)];
        long[] second = [ExternalOffsets.Compose(12, 1), ExternalOffsets.Compose(15, 0), ExternalOffsets.Compose(19, 4)];
        state.Process(External(first, 1.0, 2.0, 3.0), []);

        // Act: a re-read overlapping the last applied reading
        var applied = state.Process(External(second, 3.0, 4.0, 5.0), []);

        // Assert
        Assert.Equal(2, applied.Applied);
        Assert.Equal(ExternalOffsets.Compose(19, 4), state.Offset);
        Assert.Equal(5, state.ReadingsScored);
        Assert.Equal(19, ExternalOffsets.MessageOf(state.Offset));
    }

    [Fact]
    public void Should_report_every_scored_reading_with_band_and_episode()
    {
        // Arrange
        var state = NewState(Limits, closeAfterInBand: 2);
        var scored = new List<ScoredReading>();

        // Act: in band, out of band twice (episode 1), back in band until it closes, in band again
        state.Process(Slice(0, 5.0, 20.0, 30.0, 5.0, 5.0, 5.0), [], scored);

        // Assert
        Assert.Equal(6, scored.Count);
        Assert.Equal([0L, 1, 1, 1, 1, 0], scored.Select(s => s.Episode));
        Assert.Equal([false, true, true, false, false, false], scored.Select(s => s.OutOfBand));
        Assert.Equal([0L, 1, 2, 3, 4, 5], scored.Select(s => s.Offset));
        Assert.All(scored, s => Assert.Equal(10.0, s.High));
    }

    [Fact]
    public void Should_compose_and_split_external_offsets()
    {
        Assert.Equal(7, ExternalOffsets.MessageOf(ExternalOffsets.Compose(7, 1023)));
        Assert.True(ExternalOffsets.Compose(7, 1023) < ExternalOffsets.Compose(8, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ExternalOffsets.Compose(7, ExternalOffsets.MaxReadingsPerMessage));
    }

    private static ScoreReadings External(long[] offsets, params double[] values) =>
        new(Sensor, Partition, offsets[0], -1, offsets.Select(o => Ts(ExternalOffsets.MessageOf(o))).ToArray(), values, Offsets: offsets);

    /// <summary>
    /// 150 readings of one sensor in slices of varying length, with gaps between slices (other
    /// sensors' offsets), spikes that open and close episodes, and a few non-finite values.
    /// </summary>
    private static List<ScoreReadings> Workload()
    {
        var values = new double[150];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = 5 + Math.Sin(i * 0.7);
        }

        foreach (var spike in new[] { 20, 21, 22, 50, 51, 80, 81, 82, 83, 110, 130, 131 })
        {
            values[spike] += spike % 2 == 0 ? 25 : -30;
        }

        values[35] = double.NaN;
        values[90] = double.PositiveInfinity;

        var sizes = new[] { 1, 5, 3, 8, 2, 13, 4, 7 };
        var slices = new List<ScoreReadings>();
        long offset = 1_000;
        var start = 0;
        for (var s = 0; start < values.Length; s++)
        {
            var length = Math.Min(sizes[s % sizes.Length], values.Length - start);
            var timestamps = Enumerable.Range(start, length).Select(i => Ts(i) - (i % 5 == 0 ? 7_000 : 0)).ToArray();
            slices.Add(new ScoreReadings(Sensor, Partition, offset, -1, timestamps, values.AsMemory(start, length)));
            offset += length + 1 + s % 4;
            start += length;
        }

        return slices;
    }

    private static long Ts(long i) => 1_700_000_000_000 + i * 1_000;

    private static ScoreReadings Slice(long firstOffset, params double[] values) =>
        new(Sensor, Partition, firstOffset, -1, Enumerable.Range(0, values.Length).Select(i => Ts(firstOffset + i)).ToArray(), values);

    private static SensorState NewState(DetectorOptions options, int closeAfterInBand = 3) =>
        new(Sensor, NewDetectors(options), closeAfterInBand);

    private static SensorState NewState(DetectorOptions first, DetectorOptions second, int closeAfterInBand = 3) =>
        new(Sensor, NewDetectors(first, second), closeAfterInBand);

    /// <summary>As the node builds them: the fingerprint is the options' text.</summary>
    private static DetectorSet NewDetectors(params DetectorOptions[] options) =>
        new([.. options.Select(o => o.Create())], string.Join("|", options.Select(o => o.ToString())));

    /// <summary>A model whose type <c>temp</c> has a band of 1.5 after 2 readings.</summary>
    private static GlobalModel TempModel(string version) =>
        new(version, DateTimeOffset.UnixEpoch, [new StreamTypeModel("temp", null, new DetectorPrior(1.5, 2), 10, 1000, 0, 5, 10)]);

    /// <summary>A young stream's readings: calm around 5, a spike at offset 8.</summary>
    private static ScoreReadings[] YoungStream() =>
        [Slice(0, 5.0, 5.2, 4.9), Slice(3, 5.1, 5.0), Slice(5, 4.8, 5.1, 5.0), Slice(8, 12.0, 5.0, 5.1), Slice(11, 4.9, 5.0, 5.2, 5.1)];

    [Fact]
    public void Should_alarm_on_a_young_streams_spike_with_the_models_prior_and_stamp_its_records()
    {
        // Arrange: EWMA arms alarms only after 1,000 readings on its own.
        var withModel = new SensorState(Sensor, NewDetectors(EwmaBandOptions.Default), 3);
        var alone = new SensorState(Sensor, NewDetectors(EwmaBandOptions.Default), 3);
        var adopted = withModel.DecideAdoption(TempModel("m-1"))!;
        withModel.Apply(adopted);

        // Act
        var events = new List<IEpisodeEvent>();
        var scored = new List<ScoredReading>();
        var eventsAlone = new List<IEpisodeEvent>();
        foreach (var slice in YoungStream())
        {
            withModel.Process(slice, events, scored);
            alone.Process(slice, eventsAlone);
        }

        // Assert
        Assert.Equal(new DetectorPrior(1.5, 2), adopted.Prior);
        Assert.Equal(-1, adopted.AfterOffset);
        var opened = Assert.IsType<EpisodeOpened>(events[0]);
        Assert.Equal(8, opened.Offset);
        Assert.Equal("m-1", opened.Model);
        Assert.All(scored, r => Assert.Equal("m-1", r.Model));
        Assert.Empty(eventsAlone);
        Assert.Null(withModel.DecideAdoption(TempModel("m-1")));
    }

    [Fact]
    public void Should_take_no_prior_for_a_stream_of_a_type_the_model_does_not_know()
    {
        var state = new SensorState("site-1/dev-A/humidity", NewDetectors(EwmaBandOptions.Default), 3);

        var adopted = state.DecideAdoption(TempModel("m-1"))!;

        Assert.True(adopted.Prior.IsNone);
        Assert.Equal("m-1", adopted.Version);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Should_switch_models_at_the_same_reading_when_recovered_from_a_snapshot_before_the_switch(int snapshotAfterSlices)
    {
        // Arrange: a stream adopts m-1 after offset 4; snapshot taken earlier; crash at the end.
        var slices = YoungStream();
        var uninterrupted = new SensorState(Sensor, NewDetectors(EwmaBandOptions.Default), 3);
        var expected = new List<ScoredReading>();
        SensorSnapshot? snapshot = null;
        ModelAdopted? journaled = null;
        for (var i = 0; i < slices.Length; i++)
        {
            if (i == snapshotAfterSlices)
            {
                snapshot = uninterrupted.Capture();
            }

            if (i == 2)
            {
                journaled = uninterrupted.DecideAdoption(TempModel("m-1"))!;
                uninterrupted.Apply(journaled);
            }

            uninterrupted.Process(slices[i], [], expected);
        }

        // Act: restore, the journaled adoption, then the log re-delivered from the start.
        var recovered = new SensorState(Sensor, NewDetectors(EwmaBandOptions.Default), 3);
        recovered.Restore(snapshot!);
        if (snapshotAfterSlices <= 2)
        {
            recovered.Apply(journaled!);
        }

        var pendingBefore = recovered.PendingModels.Count;
        var rescored = new List<ScoredReading>();
        foreach (var slice in slices)
        {
            recovered.Process(slice, [], rescored);
        }

        // Assert: the same detector state, version and records (after the snapshot) as without the crash.
        Assert.Equal(4, journaled!.AfterOffset);
        Assert.Equal(snapshotAfterSlices <= 2 && snapshot!.Offset < 4 ? 1 : 0, pendingBefore);
        ContentAssert.Equal(uninterrupted.Capture(), recovered.Capture());
        Assert.Equal("m-1", recovered.ModelVersion);
        ContentAssert.Equal(expected.Where(r => r.Offset > snapshot!.Offset).ToArray(), rescored.ToArray());
        Assert.All(rescored, r => Assert.Equal(r.Offset <= 4 ? "" : "m-1", r.Model));
    }

    [Fact]
    public void Should_keep_a_pending_adoption_in_a_snapshot_taken_during_the_redelivery()
    {
        // Arrange: recovered with an adoption for offset 4 still pending, then snapshotted.
        var state = new SensorState(Sensor, NewDetectors(EwmaBandOptions.Default), 3);
        state.Process(YoungStream()[0], []);
        state.Apply(new ModelAdopted(Sensor, 4, "m-1", new DetectorPrior(1.5, 2)));
        var snapshot = state.Capture();

        // Act
        var restored = new SensorState(Sensor, NewDetectors(EwmaBandOptions.Default), 3);
        restored.Restore(snapshot);
        foreach (var slice in YoungStream().Skip(1))
        {
            restored.Process(slice, []);
            state.Process(slice, []);
        }

        // Assert
        Assert.Single(snapshot.PendingModels);
        Assert.Equal("m-1", restored.ModelVersion);
        ContentAssert.Equal(state.Capture(), restored.Capture());
    }
}
