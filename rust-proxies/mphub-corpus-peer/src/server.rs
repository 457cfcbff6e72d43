//! The reference implementation of `Corpus`: what every corpus client is checked
//! against (the C++ corpus server implements the same behaviour).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use mphub::{CallContext, Cap, Error, Result, Text};

use crate::corpus::base::NamedServer;
use crate::corpus::corpus::*;
use crate::corpus::generic::Failure;
use crate::corpus::shapes::{Annotated, Choice, Generics, Keywords, Point, Scalars, Shapes};
use crate::fixtures;

/// The `Corpus` bootstrap object.
#[derive(Default)]
pub struct CorpusImpl;

/// A counter: `Named.name`, `Counter.increment`, and for `Derived` also `reset`.
pub struct CounterImpl {
    name: Text,
    value: AtomicI64,
}

impl CounterImpl {
    /// A counter named `name` starting at `start`.
    pub fn new(name: impl Into<Text>, start: i64) -> Self {
        CounterImpl {
            name: name.into(),
            value: AtomicI64::new(start),
        }
    }
}

impl NamedServer for CounterImpl {
    async fn name(&self, _cx: &CallContext) -> Result<Text> {
        Ok(self.name.clone())
    }
}

impl CounterServer for CounterImpl {
    async fn increment(&self, _cx: &CallContext, by: i64) -> Result<i64> {
        Ok(self.value.fetch_add(by, Ordering::SeqCst) + by)
    }
}

impl DerivedServer for CounterImpl {
    async fn reset(&self, _cx: &CallContext) -> Result<i64> {
        Ok(self.value.swap(0, Ordering::SeqCst))
    }
}

/// Fixture `index` of `list`, or a clear error.
fn fixture<T: Clone>(list: Vec<T>, what: &str, index: u32) -> Result<Option<T>> {
    list.get(index as usize)
        .cloned()
        .map(Some)
        .ok_or_else(|| Error::failed(format!("no {what} fixture #{index}")))
}

/// The `check*` answer: equal to the fixture, or what differs.
fn check<T: PartialEq + std::fmt::Debug>(list: Vec<T>, index: u32, got: Option<T>) -> (bool, Text) {
    match (list.get(index as usize), got) {
        (None, _) => (false, format!("no fixture #{index}").into()),
        (Some(_), None) => (false, "got a null struct".into()),
        (Some(want), Some(got)) if *want == got => (true, Text::default()),
        (Some(want), Some(got)) => (false, format!("got {got:?}, expected {want:?}").into()),
    }
}

/// Generates the echo/get/check triple of one value construct.
macro_rules! value_construct {
    ($echo:ident, $get:ident, $check:ident, $ty:ty, $fixtures:path, $output:ident, $what:literal) => {
        async fn $echo(&self, _cx: &CallContext, value: Option<$ty>) -> Result<Option<$ty>> {
            Ok(value)
        }
        async fn $get(&self, _cx: &CallContext, index: u32) -> Result<Option<$ty>> {
            fixture($fixtures(), $what, index)
        }
        async fn $check(
            &self,
            _cx: &CallContext,
            index: u32,
            value: Option<$ty>,
        ) -> Result<$output> {
            let (ok, detail) = check($fixtures(), index, value);
            Ok($output { ok, detail })
        }
    };
}

impl CorpusServer for CorpusImpl {
    value_construct!(
        echo_scalars,
        get_scalars,
        check_scalars,
        Scalars,
        fixtures::scalars,
        CorpusCheckScalarsOutput,
        "scalars"
    );
    value_construct!(
        echo_shapes,
        get_shapes,
        check_shapes,
        Shapes,
        fixtures::shapes,
        CorpusCheckShapesOutput,
        "shapes"
    );
    value_construct!(
        echo_choice,
        get_choice,
        check_choice,
        Choice,
        fixtures::choice,
        CorpusCheckChoiceOutput,
        "choice"
    );
    value_construct!(
        echo_generics,
        get_generics,
        check_generics,
        Generics,
        fixtures::generics,
        CorpusCheckGenericsOutput,
        "generics"
    );
    value_construct!(
        echo_keywords,
        get_keywords,
        check_keywords,
        Keywords,
        fixtures::keywords,
        CorpusCheckKeywordsOutput,
        "keywords"
    );
    value_construct!(
        echo_annotated,
        get_annotated,
        check_annotated,
        Annotated,
        fixtures::annotated,
        CorpusCheckAnnotatedOutput,
        "annotated"
    );

    async fn make_counter(
        &self,
        _cx: &CallContext,
        name: Text,
        start: i64,
    ) -> Result<Cap<CounterClient>> {
        Ok(CounterServer::into_cap(CounterImpl::new(name, start)))
    }

    async fn make_derived(&self, _cx: &CallContext, name: Text) -> Result<Cap<DerivedClient>> {
        Ok(DerivedServer::into_cap(CounterImpl::new(name, 0)))
    }

    async fn make_counters(
        &self,
        _cx: &CallContext,
        count: u32,
    ) -> Result<Vec<Cap<CounterClient>>> {
        if count > 1024 {
            return Err(Error::failed(format!(
                "makeCounters: {count} is more than 1024"
            )));
        }
        Ok((0..count)
            .map(|i| CounterServer::into_cap(CounterImpl::new(format!("c{i}"), i64::from(i))))
            .collect())
    }

    async fn sum_counters(
        &self,
        _cx: &CallContext,
        counters: Vec<Cap<CounterClient>>,
    ) -> Result<i64> {
        let mut sum = 0i64;
        for c in counters {
            let c = c
                .client()
                .ok_or_else(|| Error::failed("sumCounters: a null or local counter"))?;
            sum += c.increment(0).await?;
        }
        Ok(sum)
    }

    async fn echo_holder(
        &self,
        _cx: &CallContext,
        value: Option<Holder>,
    ) -> Result<Option<Holder>> {
        Ok(value)
    }

    async fn read_name(
        &self,
        _cx: &CallContext,
        named: Option<crate::corpus::base::NamedClient>,
    ) -> Result<Text> {
        let named = named.ok_or_else(|| Error::failed("readName: null"))?;
        named.name().await
    }

    async fn raise(&self, _cx: &CallContext, which: u8) -> Result<i32> {
        match which {
            0 => Ok(42),
            1 => Err(Error::declared(
                "mphub::corpus::Failure",
                Failure {
                    code: 1,
                    message: "first".into(),
                },
            )),
            2 => Err(Error::declared("std::exception", Text::from("second"))),
            3 => Err(Error::declared("mphub::corpus::Note", Text::from("third"))),
            n => Err(Error::failed(format!("raise: no exception #{n}"))),
        }
    }

    async fn find(
        &self,
        _cx: &CallContext,
        key: Vec<u8>,
        block: Option<FindParam>,
    ) -> Result<CorpusFindOutput> {
        let found = find_result(&key, block.as_ref());
        Ok(CorpusFindOutput {
            result: found.found,
            block: Some(found),
        })
    }

    async fn start(&self, _cx: &CallContext, argv: Vec<Text>) -> Result<u32> {
        u32::try_from(argv.len()).map_err(|_| Error::failed("start: too many arguments"))
    }

    async fn tick(&self, _cx: &CallContext, step: i32) -> Result<i32> {
        step.checked_add(1)
            .ok_or_else(|| Error::failed("tick: overflow"))
    }

    async fn add_no_context(&self, _cx: &CallContext, a: i32, b: i32) -> Result<i32> {
        a.checked_add(b)
            .ok_or_else(|| Error::failed("addNoContext: overflow"))
    }

    async fn subscribe(
        &self,
        _cx: &CallContext,
        listener: Option<ListenerClient>,
        count: i32,
    ) -> Result<()> {
        let listener = listener.ok_or_else(|| Error::failed("subscribe: null listener"))?;
        for i in 0..count {
            listener.notify(i).await?;
        }
        Ok(())
    }

    async fn late(&self, _cx: &CallContext) -> Result<i32> {
        Ok(32)
    }

    async fn early(&self, _cx: &CallContext) -> Result<i32> {
        Ok(31)
    }

    async fn r#type(&self, _cx: &CallContext, self_: i32, r#match: i32) -> Result<i32> {
        self_
            .checked_mul(r#match)
            .ok_or_else(|| Error::failed("type: overflow"))
    }

    async fn local2(&self, _cx: &CallContext) -> Result<i32> {
        Ok(34)
    }

    async fn into_cap2(&self, _cx: &CallContext) -> Result<i32> {
        Ok(35)
    }

    async fn count(&self, _cx: &CallContext) -> Result<i32> {
        Ok(36)
    }

    async fn count_blocking2(&self, _cx: &CallContext) -> Result<i32> {
        Ok(37)
    }

    async fn maybe(&self, _cx: &CallContext, want: bool) -> Result<Option<Point>> {
        Ok(want.then_some(Point { x: 1, y: 2 }))
    }

    async fn divide(
        &self,
        _cx: &CallContext,
        a: i32,
        b: i32,
        want_remainder: bool,
    ) -> Result<CorpusDivideOutput> {
        if b == 0 {
            return Err(Error::failed("division by zero"));
        }
        Ok(CorpusDivideOutput {
            result: a.wrapping_div(b),
            remainder: want_remainder.then(|| a.wrapping_rem(b)),
        })
    }

    async fn run_job(&self, _cx: &CallContext, job: Option<Job>, value: i32) -> Result<i32> {
        let Some(job) = job else {
            return Ok(value);
        };
        let mut value = value;
        for mapper in std::iter::once(job.mapper).chain(job.then) {
            if mapper.is_null() {
                continue;
            }
            let mapper = mapper
                .client()
                .ok_or_else(|| Error::failed("runJob: a local mapper"))?;
            value = mapper.call(value).await?;
        }
        Ok(value)
    }

    async fn make_job(&self, _cx: &CallContext, offset: i32) -> Result<Option<Job>> {
        Ok(Some(make_job(offset)))
    }
}

/// `makeJob`'s answer: a mapper adding `offset`, then one doubling; `tagged` holds one
/// adding 100 (a callback in a generic struct).
pub fn make_job(offset: i32) -> Job {
    Job {
        label: format!("add {offset} then double").into(),
        mapper: MapperServer::into_cap(MapperImpl::Add(offset)),
        then: vec![MapperServer::into_cap(MapperImpl::Double)],
        tagged: Some(Tagged {
            tag: "tag".into(),
            mapper: MapperServer::into_cap(MapperImpl::Add(100)),
        }),
    }
}

/// A `Mapper` (a callback: `std::function<int32_t(int32_t)>` in C++), wrapping on
/// overflow as the C++ peers do.
pub enum MapperImpl {
    /// Adds this.
    Add(i32),
    /// Doubles.
    Double,
}

impl MapperServer for MapperImpl {
    async fn call(&self, _cx: &CallContext, value: i32) -> Result<i32> {
        Ok(match self {
            MapperImpl::Add(n) => value.wrapping_add(*n),
            MapperImpl::Double => value.wrapping_mul(2),
        })
    }
}

/// `find`: found when the key is not empty; `hash`/`height` only when wanted; the
/// chain of `next` requests is answered link by link.
pub fn find_result(key: &[u8], block: Option<&FindParam>) -> FindResult {
    let found = !key.is_empty();
    let Some(want) = block else {
        return FindResult {
            found,
            ..FindResult::default()
        };
    };
    FindResult {
        hash: if want.want_hash { key.to_vec() } else { vec![] },
        height: if want.want_height {
            key.len() as i32
        } else {
            0
        },
        next: want
            .next
            .as_deref()
            .map(|next| Box::new(find_result(key, Some(next)))),
        found,
    }
}

/// A listener counting the notifications it gets (for `subscribe`).
#[derive(Default)]
pub struct ListenerImpl {
    /// The values received, in order.
    pub seen: std::sync::Mutex<Vec<i32>>,
}

impl ListenerServer for Arc<ListenerImpl> {
    async fn notify(&self, _cx: &CallContext, value: i32) -> Result<()> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(value);
        Ok(())
    }
}
