using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using Xunit;

namespace AnomalyActors.Core.Tests;

public sealed class IntakePartitionStateSpecs
{
    private const int Partition = 4;

    [Fact]
    public void Should_report_each_streams_previous_offset_so_sensors_can_detect_gaps()
    {
        // Arrange
        var state = new IntakePartitionState(Partition);
        var first = state.Process(new AppendChunk(Partition, "src", 1, [R("a", 1), R("b", 2), R("a", 3)]))!;
        var firstPrevious = state.Apply(first, 1);
        var second = state.Process(new AppendChunk(Partition, "src", 2, [R("b", 4), R("c", 5), R("a", 6)]))!;

        // Act
        var secondPrevious = state.Apply(second, 2);

        // Assert: chunk 1 groups a (offsets 0-1) and b (2); chunk 2 groups b (3), c (4) and a (5).
        Assert.Equal([-1L, -1L], firstPrevious);
        Assert.Equal(new[] { "b", "c", "a" }, second.Chunk.Keys.Select(k => k[..1]));
        Assert.Equal([2L, -1L, 1L], secondPrevious);
        Assert.Equal(1L, state.SequenceNrHolding(0));
        Assert.Equal(2L, state.SequenceNrHolding(4));
        Assert.Null(state.SequenceNrHolding(6));
    }

    [Fact]
    public void Should_assign_contiguous_offsets_across_appends()
    {
        // Arrange
        var log = new Log();

        // Act
        var first = log.Append("src", 1, R("a", 1), R("b", 2), R("a", 3));
        var second = log.Append("src", 2, R("b", 4), R("c", 5));
        var empty = log.Append("src", 3);
        var third = log.Append("src", 4, R("a", 6));

        // Assert
        Assert.Equal((0L, 3L), (first.FirstOffset, first.NextOffset));
        Assert.Equal((3L, 5L), (second.FirstOffset, second.NextOffset));
        Assert.Equal((5L, 5L), (empty.FirstOffset, empty.NextOffset));
        Assert.Equal((5L, 6L), (third.FirstOffset, third.NextOffset));
        Assert.Equal(6, log.State.NextOffset);
        Assert.Equal(Partition, third.PartitionId);
        Assert.Equal(4, log.State.RetainedChunks);
        Assert.Equal(0, log.State.OldestRetainedOffset);
    }

    [Fact]
    public void Should_not_advance_offsets_until_the_chunk_is_applied()
    {
        // Arrange
        var state = new IntakePartitionState(Partition);

        // Act
        var stored = state.Process(new AppendChunk(Partition, "src", 1, [R("a", 1)]));

        // Assert
        Assert.NotNull(stored);
        Assert.Equal(0, state.NextOffset);
        Assert.Equal(0, state.RetainedChunks);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(3)]
    [InlineData(5 - SourceMark.Window - 1)]
    [InlineData(long.MinValue)]
    public void Should_detect_a_resent_batch_stored_or_further_below_the_highest_than_any_source_keeps_in_flight(long resentSeq)
    {
        // Arrange
        var log = new Log();
        log.Append("src", 3, R("a", 1));
        log.Append("src", 5, R("a", 1));

        // Act
        var resent = log.State.Process(new AppendChunk(Partition, "src", resentSeq, [R("a", 1)]));

        // Assert
        Assert.Null(resent);
    }

    [Fact]
    public void Should_accept_a_higher_sequence_and_the_same_sequence_from_another_source()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 5, R("a", 1));

        // Act
        var next = log.State.Process(new AppendChunk(Partition, "src", 6, [R("a", 2)]));
        var other = log.State.Process(new AppendChunk(Partition, "other", 5, [R("a", 2)]));

        // Assert
        Assert.NotNull(next);
        Assert.NotNull(other);
    }

    [Fact]
    public void Should_carry_the_full_source_table_in_every_chunk()
    {
        // Arrange
        var log = new Log();
        log.Append("a", 1, R("x", 1));
        log.Append("b", 7, R("x", 2));

        // Act
        var stored = log.Append("a", 2, R("x", 3));

        // Assert
        Assert.Equal(
            [new SourceMark("a", 2, StoredBelow: 0b1), new SourceMark("b", 7, StoredBelow: 0)],
            stored.Sources.OrderBy(m => m.SourceId, StringComparer.Ordinal));
    }

    [Fact]
    public void Should_store_a_retried_batch_that_a_later_batch_of_its_source_overtook()
    {
        // Arrange: batch 2's first attempt timed out while batch 3, sent after it, was stored.
        var log = new Log();
        log.Append("a", 1, R("x", 1));
        log.Append("a", 3, R("x", 3));

        // Act
        var retried = log.State.Process(new AppendChunk(Partition, "a", 2, [R("x", 2)]));

        // Assert
        Assert.NotNull(retried);
        log.State.Apply(retried, 3);
        Assert.Null(log.State.Process(new AppendChunk(Partition, "a", 2, [R("x", 2)])));
        Assert.Null(log.State.Process(new AppendChunk(Partition, "a", 3, [R("x", 3)])));
        Assert.Null(log.State.Process(new AppendChunk(Partition, "a", 1, [R("x", 1)])));
    }

    [Fact]
    public void Should_store_an_overtaken_batch_even_before_the_first_one_stored_of_its_source()
    {
        // Arrange
        var log = new Log();
        log.Append("a", 10, R("x", 10));

        // Act
        var earlier = log.State.Process(new AppendChunk(Partition, "a", 9, [R("x", 9)]));

        // Assert
        Assert.NotNull(earlier);
    }

    [Fact]
    public void Should_recognise_an_overtaken_batch_stored_before_a_recovery_from_the_newest_chunk_alone()
    {
        // Arrange: batches 5, 7 and 6 stored in that order; the older chunks are deleted.
        var log = new Log();
        log.Append("a", 5, R("x", 5));
        log.Append("a", 7, R("x", 7));
        var newest = log.Append("a", 6, R("x", 6));
        var recovered = new IntakePartitionState(Partition);

        // Act
        recovered.Apply(newest, 3);

        // Assert
        Assert.Null(recovered.Process(new AppendChunk(Partition, "a", 5, [R("x", 5)])));
        Assert.Null(recovered.Process(new AppendChunk(Partition, "a", 6, [R("x", 6)])));
        Assert.Null(recovered.Process(new AppendChunk(Partition, "a", 7, [R("x", 7)])));
        Assert.NotNull(recovered.Process(new AppendChunk(Partition, "a", 4, [R("x", 4)])));
        Assert.NotNull(recovered.Process(new AppendChunk(Partition, "a", 8, [R("x", 8)])));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(1000)]
    public void Should_keep_the_stored_batches_below_the_highest_across_any_jump(long jump)
    {
        // Arrange: 100 and 98 stored, 99 not.
        var mark = SourceMark.First("a", 98).With(100);

        // Act
        var moved = mark.With(100 + jump);

        // Assert: stored ones stay stored; the one never stored is told apart while within the window.
        Assert.True(moved.Holds(100 + jump));
        Assert.True(moved.Holds(100));
        Assert.True(moved.Holds(98));
        Assert.Equal(jump + 1 > SourceMark.Window, moved.Holds(99));
        Assert.False(moved.Holds(100 + jump + 1));
        if (jump > 1)
        {
            Assert.False(moved.Holds(100 + jump - 1));
        }
    }

    [Fact]
    public void Should_detect_duplicates_after_applying_a_chunk_whose_source_table_carries_the_mark()
    {
        // Arrange: a partition recovering whose older chunks were deleted; only the newest is replayed.
        var state = new IntakePartitionState(Partition);
        var newest = new ChunkStored(
            Partition,
            100,
            ReadingChunk.FromReadings([R("x", 1)]),
            [new SourceMark("a", 5), new SourceMark("b", 2)]);

        // Act
        state.Apply(newest, sequenceNr: 17);

        // Assert
        Assert.Null(state.Process(new AppendChunk(Partition, "a", 5, [R("x", 2)])));
        Assert.Null(state.Process(new AppendChunk(Partition, "a", 3, [R("x", 2)])));
        Assert.Null(state.Process(new AppendChunk(Partition, "b", 2, [R("x", 2)])));
        var fresh = state.Process(new AppendChunk(Partition, "a", 6, [R("x", 2)]));
        Assert.NotNull(fresh);
        Assert.Equal(101, fresh.FirstOffset);
        Assert.Equal(101, state.NextOffset);
        Assert.Equal(100, state.OldestRetainedOffset);
    }

    [Fact]
    public void Should_never_delete_the_newest_chunk()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1), R("a", 2));
        log.State.Checkpoint("a", 1);

        // Act
        var through = log.State.DeletableThrough();

        // Assert
        Assert.Equal(0, log.State.SensorsBehind);
        Assert.Equal(0, through);
    }

    [Fact]
    public void Should_delete_everything_but_the_newest_once_all_sensors_checkpointed()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1), R("b", 1)); // seq 1: a@0, b@1
        log.Append("src", 2, R("a", 2)); // seq 2: a@2
        log.Append("src", 3, R("b", 2)); // seq 3: b@3

        // Act
        log.State.Checkpoint("a", 2);
        log.State.Checkpoint("b", 3);

        // Assert
        Assert.Equal(0, log.State.SensorsBehind);
        Assert.Equal(2, log.State.DeletableThrough());
    }

    [Fact]
    public void Should_not_delete_a_chunk_some_sensor_still_needs()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1), R("a", 2), R("b", 1)); // seq 1: a@0-1, b@2
        log.Append("src", 2, R("c", 1)); // seq 2: c@3
        log.Append("src", 3, R("c", 2)); // seq 3: c@4

        // Act
        log.State.Checkpoint("b", 2);
        log.State.Checkpoint("c", 4);
        var whileABehind = log.State.DeletableThrough();
        log.State.Checkpoint("a", 1);
        var afterA = log.State.DeletableThrough();

        // Assert
        Assert.Equal(0, whileABehind);
        Assert.Equal(2, afterA);
    }

    [Fact]
    public void Should_keep_what_a_partial_checkpoint_does_not_cover()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1)); // seq 1: a@0
        log.Append("src", 2, R("a", 2)); // seq 2: a@1
        log.Append("src", 3, R("a", 3)); // seq 3: a@2
        log.Append("src", 4, R("b", 1)); // seq 4: b@3
        log.State.Checkpoint("b", 3);

        // Act
        log.State.Checkpoint("a", 0); // a's snapshot covers offset 0 only
        var through = log.State.DeletableThrough();

        // Assert
        Assert.Equal(1, log.State.SensorsBehind);
        Assert.Equal(1, through);
    }

    [Fact]
    public void Should_advance_as_checkpoints_come_in_for_a_sensor_that_received_more_readings_after_its_checkpoint()
    {
        // Arrange: a's snapshot at offset 1 is reported only after a received offset 3.
        var log = new Log();
        log.Append("src", 1, R("a", 1), R("a", 2)); // seq 1: a@0-1
        log.Append("src", 2, R("b", 1)); // seq 2: b@2
        log.Append("src", 3, R("a", 3)); // seq 3: a@3
        log.Append("src", 4, R("b", 2)); // seq 4: b@4
        log.State.Checkpoint("b", 4);
        var before = log.State.DeletableThrough();

        // Act
        log.State.Checkpoint("a", 1);
        var afterFirst = log.State.DeletableThrough();
        var behindAfterFirst = log.State.SensorsBehind;
        log.State.Checkpoint("a", 3);
        var afterSecond = log.State.DeletableThrough();

        // Assert
        Assert.Equal(0, before);
        // The chunk a's snapshot covered may go; the one holding a@3 must stay. (Seq 2 holds no
        // reading of a, but offset 2 is the first a's snapshot does not cover, so keeping it is allowed.)
        Assert.InRange(afterFirst, 1, 2);
        Assert.Equal(1, behindAfterFirst);
        Assert.Equal(3, afterSecond);
        Assert.Equal(0, log.State.SensorsBehind);
    }

    [Fact]
    public void Should_ignore_stale_and_unknown_checkpoints()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1), R("a", 2)); // a@0-1
        log.Append("src", 2, R("a", 3)); // a@2
        log.Append("src", 3, R("b", 1)); // b@3
        log.State.Checkpoint("b", 3);
        log.State.Checkpoint("a", 1);
        var through = log.State.DeletableThrough();

        // Act
        log.State.Checkpoint("a", 0); // an older snapshot reported late
        log.State.Checkpoint("nobody", 99);

        // Assert
        Assert.Equal(1, through);
        Assert.Equal(through, log.State.DeletableThrough());
        Assert.Equal(1, log.State.SensorsBehind);
    }

    [Fact]
    public void Should_track_a_sensor_again_when_it_receives_readings_after_catching_up()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1)); // a@0
        log.State.Checkpoint("a", 0);
        Assert.Equal(0, log.State.SensorsBehind);

        // Act
        log.Append("src", 2, R("a", 2)); // a@1
        log.Append("src", 3, R("b", 1)); // b@2
        log.State.Checkpoint("b", 2);

        // Assert
        Assert.Equal(1, log.State.SensorsBehind);
        Assert.Equal(1, log.State.DeletableThrough()); // a@1 in seq 2 is needed
    }

    [Fact]
    public void Should_drop_retained_chunks_when_deleted()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1), R("a", 2)); // seq 1: 0-1
        log.Append("src", 2, R("a", 3)); // seq 2: 2
        log.Append("src", 3, R("a", 4), R("a", 5)); // seq 3: 3-4
        log.State.Checkpoint("a", 4);
        var through = log.State.DeletableThrough();

        // Act
        log.State.Deleted(through);

        // Assert
        Assert.Equal(2, through);
        Assert.Equal(1, log.State.RetainedChunks);
        Assert.Equal(3, log.State.OldestRetainedOffset);
        Assert.Equal(5, log.State.NextOffset);
        Assert.Equal(0, log.State.DeletableThrough());
        Assert.Null(log.State.Process(new AppendChunk(Partition, "src", 3, [R("a", 9)])));
        Assert.Equal(5, log.Append("src", 4, R("a", 6)).FirstOffset);
    }

    [Fact]
    public void Should_report_the_next_offset_as_oldest_retained_when_nothing_is_retained()
    {
        // Arrange
        var state = new IntakePartitionState(Partition);

        // Act
        var oldest = state.OldestRetainedOffset;

        // Assert
        Assert.Equal(0, oldest);
        Assert.Equal(0, state.DeletableThrough());
    }

    [Fact]
    public void Should_refuse_a_chunk_that_does_not_follow_the_retained_log()
    {
        // Arrange
        var log = new Log();
        log.Append("src", 1, R("a", 1));
        var gap = new ChunkStored(Partition, 5, ReadingChunk.FromReadings([R("a", 2)]), [new SourceMark("src", 2)]);

        // Act
        var exception = Record.Exception(() => log.State.Apply(gap, 2));

        // Assert
        Assert.IsType<InvalidOperationException>(exception);
    }

    [Fact]
    public void Should_behave_the_same_after_recovery_from_the_retained_chunks()
    {
        // Arrange: a live partition with deletions behind it
        var live = new Log();
        var journal = new List<(ChunkStored Chunk, long SequenceNr)>();
        void Append(string source, long seq, params Reading[] readings) => journal.Add((live.Append(source, seq, readings), live.LastSequenceNr));
        Append("s1", 1, R("a", 1), R("b", 1)); // seq 1: a@0, b@1
        Append("s2", 1, R("b", 2)); // seq 2: b@2
        Append("s1", 2, R("c", 1), R("c", 2)); // seq 3: c@3-4
        live.State.Checkpoint("a", 0);
        live.State.Checkpoint("b", 2);
        var deleted = live.State.DeletableThrough();
        live.State.Deleted(deleted);
        Append("s2", 2, R("c", 3)); // seq 4: c@5
        Append("s1", 3, R("a", 3), R("d", 1)); // seq 5: a@6, d@7
        Append("s3", 1, R("d", 2)); // seq 6: d@8
        var checkpoints = new[] { ("a", 6L), ("c", 5L), ("d", 7L) };
        foreach (var (sensor, offset) in checkpoints)
        {
            live.State.Checkpoint(sensor, offset);
        }

        // Act: replay what the journal still holds
        var recovered = new IntakePartitionState(Partition);
        foreach (var (chunk, sequenceNr) in journal.Where(j => j.SequenceNr > deleted))
        {
            recovered.Apply(chunk, sequenceNr);
        }

        var beforeReports = recovered.DeletableThrough();
        foreach (var (sensor, offset) in checkpoints)
        {
            recovered.Checkpoint(sensor, offset); // sensors answer the re-delivery with their snapshot offsets
        }

        // Assert
        Assert.Equal(2, deleted);
        Assert.Equal(live.State.NextOffset, recovered.NextOffset);
        Assert.Equal(live.State.RetainedChunks, recovered.RetainedChunks);
        Assert.Equal(live.State.OldestRetainedOffset, recovered.OldestRetainedOffset);
        Assert.True(beforeReports <= live.State.DeletableThrough(), "recovery may only be more conservative");
        Assert.Equal(live.State.DeletableThrough(), recovered.DeletableThrough());
        Assert.Equal(live.State.SensorsBehind, recovered.SensorsBehind);
        Assert.Equal(1, recovered.SensorsBehind); // d still needs d@8
        foreach (var (source, seq) in new[] { ("s1", 1L), ("s1", 3L), ("s2", 2L), ("s3", 1L), ("s1", 4L), ("s2", 3L), ("s4", 1L) })
        {
            var command = new AppendChunk(Partition, source, seq, [R("z", 1)]);
            var expected = live.State.Process(command);
            var actual = recovered.Process(command);
            ContentAssert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Should_never_delete_a_reading_that_a_sensor_has_not_checkpointed()
    {
        // Arrange: a seeded random schedule of appends, lagging checkpoints and trims
        var random = new Random(1234);
        var log = new Log();
        var sensors = new[] { "a", "b", "c", "d", "e" };
        var delivered = sensors.ToDictionary(s => s, _ => new List<long>());
        var checkpointed = sensors.ToDictionary(s => s, _ => -1L);
        var chunks = new List<(long SequenceNr, ChunkStored Chunk)>();
        long deletedThrough = 0;

        for (var step = 0; step < 2_000; step++)
        {
            // Act
            switch (random.Next(3))
            {
                case 0:
                    var readings = Enumerable.Range(0, random.Next(0, 6)).Select(i => R(sensors[random.Next(sensors.Length)], step)).ToArray();
                    var stored = log.Append("src", step, readings);
                    chunks.Add((log.LastSequenceNr, stored));
                    for (var g = 0; g < stored.Chunk.Keys.Length; g++)
                    {
                        for (var i = stored.Chunk.GroupStarts[g]; i < stored.Chunk.GroupStarts[g + 1]; i++)
                        {
                            delivered[stored.Chunk.Keys[g]].Add(stored.FirstOffset + i);
                        }
                    }

                    break;
                case 1:
                    var sensor = sensors[random.Next(sensors.Length)];
                    var offsets = delivered[sensor];
                    if (offsets.Count > 0)
                    {
                        // A snapshot covers some prefix of what was delivered; reports may arrive late.
                        var covered = offsets[random.Next(offsets.Count)];
                        checkpointed[sensor] = Math.Max(checkpointed[sensor], covered);
                        log.State.Checkpoint(sensor, covered);
                    }

                    break;
                default:
                    var through = log.State.DeletableThrough();
                    if (through > 0)
                    {
                        log.State.Deleted(through);
                        deletedThrough = Math.Max(deletedThrough, through);
                    }

                    break;
            }

            // Assert
            foreach (var (sequenceNr, chunk) in chunks.Where(c => c.SequenceNr <= deletedThrough))
            {
                for (var g = 0; g < chunk.Chunk.Keys.Length; g++)
                {
                    var last = chunk.FirstOffset + chunk.Chunk.GroupStarts[g + 1] - 1;
                    Assert.True(
                        last <= checkpointed[chunk.Chunk.Keys[g]],
                        $"step {step}: chunk {sequenceNr} deleted with {chunk.Chunk.Keys[g]}@{last} past its checkpoint {checkpointed[chunk.Chunk.Keys[g]]}");
                }
            }

            if (chunks.Count > 0)
            {
                Assert.True(chunks[^1].SequenceNr > deletedThrough, $"step {step}: newest chunk deleted");
                Assert.Equal(chunks.Count(c => c.SequenceNr > deletedThrough), log.State.RetainedChunks);
            }
        }

        Assert.True(deletedThrough > 100, $"the schedule should trim a good part of the log, trimmed through {deletedThrough}");
    }

    [Fact]
    public void Should_ask_a_stream_only_about_readings_handed_to_it_not_about_ones_still_being_written()
    {
        // Arrange: chunk 1 written and handed out at 1 s; chunk 2 assigned its offsets, its write still under way
        var state = new IntakePartitionState(Partition);
        var first = state.Process(new AppendChunk(Partition, "mqtt", 1, [R("a", 1)], null))!;
        state.Apply(first, 1);
        state.Handed(first, 1_000);
        var second = state.Process(new AppendChunk(Partition, "mqtt", 2, [R("a", 2)], null))!;
        state.Apply(second, 2);
        var due = new List<CheckDelivery>();

        // Act: long after the first, the second still unwritten
        state.DueForCheck(10_000, 2_000, due);

        // Assert: asked about the first reading only (offset 0), never about offset 1 before it went out
        var check = Assert.Single(due);
        Assert.Equal(0, check.LastOffset);

        // Act: the stream confirms the first, the second is written and handed out at 11 s
        state.Confirmed("a", 0);
        state.Handed(second, 11_000);
        due.Clear();
        state.DueForCheck(12_000, 2_000, due);
        Assert.Empty(due);
        state.DueForCheck(13_500, 2_000, due);

        // Assert: quiet for 2 s after it went out, and unconfirmed: asked
        Assert.Equal(1, Assert.Single(due).LastOffset);
    }

    private static Delivery D(ushort packetId, bool resent, int readings, string session = "mqtt:node", ulong hash = 0) =>
        new(new DeliveryKey(session, packetId, hash == 0 ? 1000UL + packetId : hash), resent, readings, 100);

    [Fact]
    public void Should_skip_the_readings_of_a_resent_message_that_is_already_stored()
    {
        // Arrange: messages 1 and 2 stored in batch 1 of one source run
        var state = new IntakePartitionState(Partition);
        state.Apply(state.Process(new AppendChunk(Partition, "mqtt", 1, [R("a", 1), R("b", 1), R("a", 2)], new DeliveryLog([D(1, false, 2), D(2, false, 1)])))!, 1);

        // Act: the broker resends both after a crash (a new source run, so a new batch sequence), with a new message 3
        var stored = state.Process(new AppendChunk(Partition, "mqtt", 1_000, [R("a", 1), R("b", 1), R("a", 2), R("c", 1)],
            new DeliveryLog([D(1, true, 2), D(2, true, 1), D(3, false, 1)])));

        // Assert
        Assert.NotNull(stored);
        Assert.Equal(["c"], stored.Chunk.Keys);
        Assert.Equal(1, stored.Chunk.Count);
        Assert.Equal([new DeliveryKey("mqtt:node", 3, 1003)], stored.Deliveries!.Keys);
        Assert.Equal(3, state.RedeliveredReadingsSkipped);
    }

    [Fact]
    public void Should_store_nothing_when_every_message_was_a_redelivery()
    {
        var state = new IntakePartitionState(Partition);
        state.Apply(state.Process(new AppendChunk(Partition, "mqtt", 1, [R("a", 1)], new DeliveryLog([D(7, false, 1)])))!, 1);

        var stored = state.Process(new AppendChunk(Partition, "mqtt", 2, [R("a", 1)], new DeliveryLog([D(7, true, 1)])));

        Assert.Null(stored);
        Assert.Equal(1, state.NextOffset);
    }

    [Fact]
    public void Should_store_a_resent_message_that_never_became_durable_and_one_whose_content_differs()
    {
        // Arrange
        var state = new IntakePartitionState(Partition);
        state.Apply(state.Process(new AppendChunk(Partition, "mqtt", 1, [R("a", 1)], new DeliveryLog([D(1, false, 1)])))!, 1);

        // Act: message 2 was never stored; packet id 1 again but a different message (another hash); another session's id 1
        var stored = state.Process(new AppendChunk(Partition, "mqtt", 2, [R("a", 2), R("a", 3), R("b", 1)],
            new DeliveryLog([D(2, true, 1), D(1, true, 1, hash: 99), D(1, true, 1, session: "mqtt:other")])));

        // Assert
        Assert.NotNull(stored);
        Assert.Equal(3, stored.Chunk.Count);
        Assert.Equal(0, state.RedeliveredReadingsSkipped);
    }

    [Fact]
    public void Should_store_a_message_resent_twice_in_one_batch_once()
    {
        var state = new IntakePartitionState(Partition);

        var stored = state.Process(new AppendChunk(Partition, "mqtt", 1, [R("a", 1), R("a", 1)], new DeliveryLog([D(5, false, 1), D(5, true, 1)])));

        Assert.Equal(1, stored!.Chunk.Count);
        Assert.Equal(1, state.RedeliveredReadingsSkipped);
    }

    [Fact]
    public void Should_recognise_redeliveries_after_recovery_from_the_journal_and_a_saved_key_table()
    {
        // Arrange: ten messages over two chunks; the key table saved after the first, then the first deleted
        var live = new IntakePartitionState(Partition);
        var first = live.Process(new AppendChunk(Partition, "mqtt", 1, [.. Enumerable.Range(0, 5).Select(i => R("a", i))],
            new DeliveryLog([.. Enumerable.Range(0, 5).Select(i => D((ushort)i, false, 1))])))!;
        live.Apply(first, 1);
        var saved = live.StoredDeliveries.Snapshot();
        var second = live.Process(new AppendChunk(Partition, "mqtt", 2, [.. Enumerable.Range(5, 5).Select(i => R("a", i))],
            new DeliveryLog([.. Enumerable.Range(5, 5).Select(i => D((ushort)i, false, 1))])))!;
        live.Apply(second, 2);
        live.Checkpoint("a", 9);
        Assert.Equal(0, live.DeletableThrough(deliveryKeysSavedThrough: 0));
        Assert.Equal(1, live.DeletableThrough(deliveryKeysSavedThrough: 1));

        // Act: a new incarnation restores the saved table and replays the chunk that is left
        var recovered = new IntakePartitionState(Partition);
        recovered.StoredDeliveries.Restore(saved);
        recovered.Apply(second, 2);
        var resent = new AppendChunk(Partition, "mqtt", 1_000, [.. Enumerable.Range(0, 11).Select(i => R("a", i))],
            new DeliveryLog([.. Enumerable.Range(0, 11).Select(i => D((ushort)i, true, 1))]));

        // Assert: only message 10 is new
        var stored = recovered.Process(resent);
        Assert.Equal(1, stored!.Chunk.Count);
        Assert.Equal(10, recovered.RedeliveredReadingsSkipped);
        ContentAssert.Equal(live.Process(resent), stored);
    }

    [Fact]
    public void Should_recognise_a_resent_message_after_a_newer_one_took_its_packet_id()
    {
        // Arrange: message 1 stored under packet id 9; the broker (as mosquitto does with a large
        // backlog) hands id 9 to message 2 while message 1 is still unacknowledged
        var state = new IntakePartitionState(Partition);
        state.Apply(state.Process(new AppendChunk(Partition, "mqtt", 1, [R("a", 1)], new DeliveryLog([D(9, false, 1, hash: 111)])))!, 1);
        state.Apply(state.Process(new AppendChunk(Partition, "mqtt", 2, [R("a", 2)], new DeliveryLog([D(9, false, 1, hash: 222)])))!, 2);

        // Act: after a crash both come back
        var stored = state.Process(new AppendChunk(Partition, "mqtt", 1_000, [R("a", 1), R("a", 2)],
            new DeliveryLog([D(9, true, 1, hash: 111), D(9, true, 1, hash: 222)])));

        // Assert
        Assert.Null(stored);
        Assert.Equal(2, state.RedeliveredReadingsSkipped);
    }

    [Fact]
    public void Should_hold_no_more_keys_per_session_than_its_window()
    {
        var table = new DeliveryTable();
        for (var i = 0; i < 1000; i++)
        {
            table.Record(new DeliveryKey("s", (ushort)i, (ulong)i), 100);
        }

        table.Record(new DeliveryKey("t", 1, 1), 5);

        Assert.Equal(101, table.Count);
        Assert.True(table.Contains(new DeliveryKey("s", 999, 999)));
        Assert.True(table.Contains(new DeliveryKey("s", 900, 900)));
        Assert.False(table.Contains(new DeliveryKey("s", 899, 899)));
        var restored = new DeliveryTable();
        restored.Restore(table.Snapshot());
        Assert.Equal(101, restored.Count);
        Assert.True(restored.Contains(new DeliveryKey("s", 950, 950)));
        Assert.False(restored.Contains(new DeliveryKey("s", 950, 951)));
    }

    private static Reading R(string sensor, long timestampMs) => new(sensor, timestampMs, timestampMs * 0.5);

    /// <summary>A partition and its journal sequence numbers: Process then Apply, as the actor does.</summary>
    private sealed class Log
    {
        public IntakePartitionState State { get; } = new(Partition);

        public long LastSequenceNr { get; private set; }

        public ChunkStored Append(string source, long seq, params Reading[] readings)
        {
            var stored = State.Process(new AppendChunk(Partition, source, seq, readings));
            Assert.NotNull(stored);
            State.Apply(stored, ++LastSequenceNr);
            return stored;
        }
    }
}
